import { lstatSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * What the CLI's thin front (`entry.ts`), the agent (`agent-server.ts`) and `backchannel agent`
 * share: where a data dir's agent listens, whether that socket is safe to use, which commands are
 * never forwarded, and the wire between them. Imports nothing but node: builtins, so that a
 * command an agent serves never loads the sdk in the CLI's own process (issue 12, item 9).
 */

/** Commands that always run in the CLI's own process: they serve, prompt, run long, make a device or manage the agent. */
const localCommands = new Set(["serve", "console", "demo", "admin", "agent", "join", "watch"]);
/** `mediator` subcommands that make a device (a passphrase of their own): local too. */
const localMediatorCommands = new Set(["init", "join"]);

/** Global options that take a value (as in program.ts): the word after them is not a command. */
const valueOptions = new Set(["--home", "--passphrase-file"]);

/** The words of `args` that are not options or option values: the command and its subcommands. */
function words(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (valueOptions.has(a)) i++;
    else if (!a.startsWith("-")) out.push(a);
  }
  return out;
}

/** Whether `args` (process.argv after node and the script) names a command an agent may run. */
export function forwardable(args: readonly string[]): boolean {
  const [command, sub] = words(args);
  if (command === undefined) return false; // help, --version: the full CLI answers
  if (localCommands.has(command)) return false;
  return !(command === "mediator" && sub !== undefined && localMediatorCommands.has(sub));
}

/** The data dir `args` names: --home, else BACKCHANNEL_HOME, else ~/.backchannel (global-options.ts). */
export function homeFromArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  let home: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--home" && i + 1 < args.length) home = args[++i];
    else if (a.startsWith("--home=")) home = a.slice("--home=".length);
    else if (a === "--passphrase-file") i++;
  }
  return resolve(home ?? env.BACKCHANNEL_HOME ?? join(homedir(), ".backchannel"));
}

/** The agent's own directory in a data dir (0700) and its socket in it (0600). */
export const agentDir = (home: string): string => join(home, "agent");
export const agentSocket = (home: string): string => join(agentDir(home), "agent.sock");

/**
 * Why the agent's socket at `home` must not be used, or undefined when it is safe: the directory
 * and the socket must belong to this user and be reachable by nobody else (0700, 0600). Unix
 * sockets carry no credential check in Node, so these modes are what keeps other users out.
 * Undefined as well when there is no socket (no agent).
 */
export function unsafeSocket(home: string): string | undefined {
  const uid = process.getuid?.();
  const check = (path: string, kind: "dir" | "socket"): string | undefined => {
    const s = lstatSync(path, { throwIfNoEntry: false });
    if (!s) return undefined;
    if (kind === "dir" ? !s.isDirectory() : !s.isSocket())
      return `${path} is not a ${kind === "dir" ? "directory" : "socket"}`;
    if (uid !== undefined && s.uid !== uid) return `${path} belongs to another user (uid ${s.uid})`;
    const want = kind === "dir" ? 0o700 : 0o600;
    if ((s.mode & 0o777) !== want)
      return `${path} has mode ${(s.mode & 0o777).toString(8).padStart(4, "0")}, not ${want.toString(8).padStart(4, "0")}`;
    return undefined;
  };
  return check(agentDir(home), "dir") ?? check(agentSocket(home), "socket");
}

/** The CLI's request to its agent: one JSON line. */
export interface AgentRequest {
  /** A command: the user's words, the directory they ran it in, and stdin when the command reads it. */
  argv?: string[];
  cwd?: string;
  stdin?: string; // base64
  /** Or a question for the agent itself. */
  control?: "status" | "stop";
}

/** The agent's answer, one JSON line each: output as it comes, then the exit code (or status). */
export type AgentFrame =
  | { stream: "stdout" | "stderr"; data: string } // base64
  | { exit: number }
  | { status: AgentStatus };

export interface AgentStatus {
  pid: number;
  home: string;
  ttlMs: number;
  /** When the agent exits if nothing more comes (epoch ms). */
  expiresAt: number;
  /** Commands it has run since it started. */
  served: number;
}

/** Whether `args` makes a command read standard input (`--text-file -`), which then goes along. */
export function readsStdin(args: readonly string[]): boolean {
  return args.some((a, i) => (a === "-" && i > 0 && args[i - 1] === "--text-file") || a === "--text-file=-");
}

/**
 * Sends `request` to the agent at `home`, passing each frame it answers to `onFrame`. Resolves
 * false when no agent listens there (no socket, or one left behind by an agent that died), so the
 * caller runs the command itself; rejects if the agent goes away mid-answer.
 */
export function askAgent(
  home: string,
  request: AgentRequest,
  onFrame: (frame: AgentFrame) => void,
): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(agentSocket(home));
    let answered = false;
    let rest = "";
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.end(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => {
      answered = true;
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line) onFrame(JSON.parse(line) as AgentFrame);
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (!answered && (e.code === "ECONNREFUSED" || e.code === "ENOENT")) resolvePromise(false);
      else reject(e);
    });
    socket.on("close", (hadError) => {
      if (!hadError) resolvePromise(true);
    });
  });
}
