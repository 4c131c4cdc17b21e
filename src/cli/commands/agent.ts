import { Option } from "@commander-js/extra-typings";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import { join, resolve } from "node:path";
import { agentDir, agentSocket, askAgent, unsafeSocket, type AgentStatus } from "../agent-socket.js";
import { CliError } from "../cli-error.js";
import { devicePath, homeDir, output, passphrase } from "../context.js";
import { parseDuration } from "../duration.js";
import type { GlobalOptions, Program } from "../global-options.js";

/** `--ttl`: a duration as elsewhere (30m, 2h), or seconds (`90s`). */
function parseTtl(value: string): number {
  const s = /^(\d+)s$/.exec(value.trim());
  return s && Number(s[1]) > 0 ? Number(s[1]) * 1000 : parseDuration(value);
}

async function status(home: string): Promise<AgentStatus | undefined> {
  let found: AgentStatus | undefined;
  const unsafe = unsafeSocket(home);
  if (unsafe) throw new CliError("agent_unsafe", `not using the agent: ${unsafe}`);
  await askAgent(home, { control: "status" }, (f) => {
    if ("status" in f) found = f.status;
  });
  return found;
}

/**
 * The longest unix socket path every platform takes: Linux has 108 bytes for it, macOS 104, each
 * with its terminating NUL.
 */
const MAX_SOCKET_PATH_BYTES = 103;

/** Starts the agent process and waits for its first line: ready, or why not. */
async function startAgent(o: GlobalOptions, ttlMs: number): Promise<{ pid: number; socket: string }> {
  const home = resolve(homeDir(o));
  if (!existsSync(devicePath(o)))
    throw new CliError(
      "no_device",
      `no device in ${home}: run \`backchannel mediator init\` or \`backchannel join <code>\` first`,
    );
  const socket = agentSocket(home);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES)
    throw new CliError(
      "agent_path_too_long",
      `the agent's socket would be ${socket}, ${Buffer.byteLength(socket)} bytes, and a unix socket path ` +
        `may have at most ${MAX_SOCKET_PATH_BYTES}: use a data dir with a shorter path (--home or BACKCHANNEL_HOME)`,
    );
  if (await status(home)) throw new CliError("agent_running", `an agent already serves ${home}`);
  const secret = await passphrase(o);
  mkdirSync(agentDir(home), { recursive: true, mode: 0o700 });
  const unsafe = unsafeSocket(home);
  if (unsafe) throw new CliError("agent_unsafe", `not starting the agent: ${unsafe}`);
  const env = { ...process.env };
  delete env.BACKCHANNEL_PASSPHRASE;
  const logFd = openSync(join(agentDir(home), "agent.log"), "a", 0o600);
  const child = spawn(process.execPath, [join(import.meta.dirname, "..", "agent-server.js")], {
    detached: true,
    stdio: ["pipe", "pipe", logFd],
    env,
    cwd: home,
  });
  closeSync(logFd);
  child.stdin!.end(`${JSON.stringify({ home, ttlMs, passphrase: secret })}\n`);
  const first = await new Promise<string | undefined>((res) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (l) => {
      lines.close();
      res(l);
    });
    child.once("exit", () => res(undefined));
  });
  child.stdout!.destroy();
  child.unref();
  const answer = first
    ? (JSON.parse(first) as {
        ready?: boolean;
        pid: number;
        socket: string;
        error?: string;
        message?: string;
      })
    : undefined;
  if (!answer?.ready)
    throw new CliError(
      answer?.error ?? "internal",
      answer?.message ?? `the agent did not start; see ${join(agentDir(home), "agent.log")}`,
    );
  return answer;
}

/** `backchannel agent start|stop|status`: a background process that keeps the device unlocked (like ssh-agent). */
export function registerAgentCommand(program: Program): void {
  const agent = program
    .command("agent")
    .description(
      "keep this device unlocked in a background process so that commands start fast (any process of yours can then use the device until it stops)",
    );
  agent
    .command("start")
    .description("unlock the keystore once and serve commands from a socket in the data dir")
    .addOption(
      new Option("--ttl <duration>", "stop after this long without a command (90s, 15m, 2h)")
        .argParser(parseTtl)
        .default(15 * 60_000, "15m"),
    )
    .action(async (opts, cmd) => {
      const o = cmd.optsWithGlobals();
      const { pid, socket } = await startAgent(o, opts.ttl);
      output(
        o,
        { pid, socket, ttlSeconds: opts.ttl / 1000 },
        `Agent started (pid ${pid}): commands for this device go to ${socket} until ${opts.ttl / 1000} s pass without one, or \`backchannel agent stop\`.`,
      );
    });
  agent
    .command("status")
    .description("whether an agent serves this data dir")
    .action(async (_opts, cmd) => {
      const o = cmd.optsWithGlobals();
      const s = await status(resolve(homeDir(o)));
      output(
        o,
        s ? { running: true, ...s } : { running: false },
        s
          ? `Agent running (pid ${s.pid}), ${s.served} command(s) served; stops at ${new Date(s.expiresAt).toISOString()} unless another comes.`
          : "No agent serves this data dir.",
      );
    });
  agent
    .command("stop")
    .description("stop the agent: the next command unlocks the keystore itself")
    .action(async (_opts, cmd) => {
      const o = cmd.optsWithGlobals();
      const home = resolve(homeDir(o));
      const s = await status(home);
      if (!s) throw new CliError("agent_not_running", "no agent serves this data dir");
      await askAgent(home, { control: "stop" }, () => undefined);
      output(o, { stopped: true, pid: s.pid }, `Agent stopped (pid ${s.pid}).`);
    });
}
