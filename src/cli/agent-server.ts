import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { openDevice } from "../sdk/index.js";
import { FileStateStore, nodePlatform } from "../sdk/node.js";
import { BackchannelError } from "../protocol/errors.js";
import {
  agentDir,
  agentSocket,
  askAgent,
  forwardable,
  unsafeSocket,
  type AgentFrame,
  type AgentRequest,
} from "./agent-socket.js";
import { holdStore } from "./context.js";
import { main } from "./run.js";
import { giveStdin } from "./text-source.js";

/**
 * The agent (`backchannel agent start`, commands/agent.ts): a background process that unlocks a
 * data dir's keystore once and runs the CLI's commands for it on a unix socket, so that a command
 * costs neither the sdk's loading nor the scrypt derivation (issue 12, item 9). It reads
 * `{ home, ttlMs, passphrase }` as one JSON line on stdin (a pipe from `agent start`, never a file
 * or an argument), answers `{ ready }` or `{ error, message }` on stdout, and from then on writes
 * nothing but its log (stderr). It runs one command at a time, exits after `ttlMs` without one,
 * on `agent stop`, or on SIGTERM / SIGINT, and removes its socket.
 */
interface Start {
  home: string;
  ttlMs: number;
  passphrase: string;
}

const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);

async function readStart(): Promise<Start> {
  let text = "";
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString("utf8");
  return JSON.parse(text) as Start;
}

/** Runs one forwarded command as the CLI would, its output going to `send`. */
async function runCommand(
  store: FileStateStore,
  req: AgentRequest,
  send: (f: AgentFrame) => void,
): Promise<void> {
  const argv = req.argv ?? [];
  if (!forwardable(argv)) {
    send({
      stream: "stderr",
      data: Buffer.from(
        "error [agent_local] this command runs in the CLI itself, not in the agent\n",
      ).toString("base64"),
    });
    return send({ exit: 2 });
  }
  const capture = (stream: "stdout" | "stderr") =>
    ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
      const bytes =
        typeof chunk === "string"
          ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
          : Buffer.from(chunk);
      send({ stream, data: bytes.toString("base64") });
      const cb = typeof encoding === "function" ? encoding : callback;
      if (typeof cb === "function") queueMicrotask(() => (cb as () => void)());
      return true;
    }) as typeof process.stdout.write;
  const cwd = process.cwd();
  // Own properties over the streams' prototype method, deleted afterwards: commands (and
  // commander) write to process.stdout / process.stderr, which here means the CLI's socket.
  process.stdout.write = capture("stdout");
  process.stderr.write = capture("stderr");
  let exit = 1;
  try {
    if (req.cwd) process.chdir(req.cwd);
    giveStdin(req.stdin === undefined ? undefined : Buffer.from(req.stdin, "base64"));
    await store.refresh();
    exit = await main(["node", "backchannel", ...argv]);
  } finally {
    delete (process.stdout as { write?: unknown }).write;
    delete (process.stderr as { write?: unknown }).write;
    giveStdin(undefined);
    process.chdir(cwd);
  }
  send({ exit });
}

async function start(): Promise<void> {
  const { home, ttlMs, passphrase } = await readStart();
  delete process.env.BACKCHANNEL_PASSPHRASE;
  process.env.BACKCHANNEL_HOME = home;
  const store = new FileStateStore(join(home, "device.json"), passphrase);
  await openDevice(store, nodePlatform); // unlocks (scrypt) and validates, once
  holdStore(store);

  mkdirSync(agentDir(home), { recursive: true, mode: 0o700 });
  const problem = unsafeSocket(home);
  if (problem) throw new BackchannelError("agent_unsafe", problem);
  const path = agentSocket(home);
  if (existsSync(path)) {
    if (await askAgent(home, { control: "status" }, () => undefined))
      throw new BackchannelError("agent_running", `an agent already serves ${home}`);
    unlinkSync(path); // left by an agent that died
  }

  let served = 0;
  let expiresAt = Date.now() + ttlMs;
  let queue: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const server = createServer({ allowHalfOpen: true }); // the CLI ends its side once it has asked
  const stop = (why: string): void => {
    log(`stopping: ${why}`);
    clearTimeout(timer);
    server.close();
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    process.exit(0);
  };
  const arm = (): void => {
    clearTimeout(timer);
    expiresAt = Date.now() + ttlMs;
    timer = setTimeout(() => stop(`no command for ${ttlMs / 1000} s`), ttlMs);
  };

  server.on("connection", (socket: Socket) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("error", () => undefined); // a CLI that went away: nothing to answer
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => {
      const send = (f: AgentFrame): void => void (socket.writable && socket.write(`${JSON.stringify(f)}\n`));
      let req: AgentRequest;
      try {
        req = JSON.parse(text) as AgentRequest;
      } catch {
        return socket.destroy();
      }
      // The socket's and its directory's modes are checked on every request, as the CLI does.
      const unsafe = unsafeSocket(home);
      if (unsafe) {
        send({
          stream: "stderr",
          data: Buffer.from(`error [agent_unsafe] the agent refuses: ${unsafe}\n`).toString("base64"),
        });
        send({ exit: 1 });
        return socket.end();
      }
      if (req.control === "status") {
        send({ status: { pid: process.pid, home, ttlMs, expiresAt, served } });
        return socket.end();
      }
      if (req.control === "stop") {
        send({ exit: 0 });
        socket.end(() => void queue.then(() => stop("agent stop")));
        return;
      }
      clearTimeout(timer);
      queue = queue
        .then(() => runCommand(store, req, send))
        .catch((e: unknown) => {
          log(`command failed: ${(e as Error).message}`);
          send({ exit: 1 });
        })
        .finally(() => {
          served++;
          socket.end();
          arm();
        });
    });
  });

  const umask = process.umask(0o177); // the socket is made 0600, never briefly wider
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, resolve);
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("unhandledRejection", (e) => log(`unhandled: ${String(e)}`));
  process.stdout.on("error", () => undefined); // `agent start` has gone: nothing more is written there
  arm();
  log(`serving ${home} on ${path}, pid ${process.pid}`);
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, socket: path })}\n`);
}

start().catch((e: unknown) => {
  const error = e instanceof BackchannelError ? e.code : "internal";
  process.stdout.write(
    `${JSON.stringify({ error, message: e instanceof Error ? e.message : String(e) })}\n`,
    () => process.exit(1),
  );
});
