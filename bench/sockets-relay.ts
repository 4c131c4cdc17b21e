import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadTestLimits } from "../src/server/limits/load-test-limits.js";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Inside the repository, so the compiled relay resolves fastify, ws and better-sqlite3 from node_modules. */
const buildDir = join(root, "node_modules", ".cache", "bench-sockets-relay");
let compiled: string | undefined;

/**
 * The relay as it runs in production: compiled JavaScript under plain `node`, not TypeScript
 * under tsx (whose loader thread alone adds about 25 MiB of RSS). Compiled from the working tree
 * on every run (type checks are the typecheck's job), so an edit is never measured stale; once per
 * run, as the phases that need it (nodes, sockets) see the same tree.
 */
export function compileRelay(): string {
  if (!compiled) compiled = compile();
  return compiled;
}

function compile(): string {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const args = ["-p", "tsconfig.build.json", "--noCheck", "--outDir", buildDir];
  const result = spawnSync(
    process.execPath,
    [tsc, ...args, "--declaration", "false", "--sourceMap", "false"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  if (result.status !== 0) throw new Error(`compiling the relay failed:\n${result.stdout}${result.stderr}`);
  return join(buildDir, "server", "start-server.js");
}

/** The same compilation's CLI entry: `node <it> serve` is `backchannel serve` of the working tree. */
export function compileCli(): string {
  compileRelay();
  return join(buildDir, "cli", "main.js");
}

/** The relay child: starts the server on a free port and answers memory questions over IPC. */
const relayScript = `
const [startServerUrl, dataDir] = process.argv.slice(1);
const { rmSync } = await import("node:fs");
const { startServer } = await import(startServerUrl);
const server = await startServer({ host: "127.0.0.1", port: 0, dataDir, registration: "open", limits: ${JSON.stringify(loadTestLimits)} });
process.send({ type: "listening", url: server.url });
// The bench gone (even killed) means the run is over: never outlive it holding a port, nor
// leave the database in /dev/shm, which is memory.
process.on("disconnect", () => {
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
process.on("message", (m) => {
  if (m.type === "memory") process.send({ type: "memory", ...process.memoryUsage() });
  if (m.type === "close") void server.close().then(() => process.exit(0));
});
`;

/** This process's hard limit on open files, as the kernel reports it. */
export function hardFileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const hard = line?.trim().split(/\s+/)[4];
  if (hard === undefined) throw new Error("cannot read the open-file limit from /proc/self/limits");
  return hard === "unlimited" ? Number.POSITIVE_INFINITY : Number(hard);
}

/**
 * Raising the hard limit needs CAP_SYS_RESOURCE; a sandbox may drop it even for root. Tried in a
 * throw-away shell first, so the answer is the kernel's, not a guess.
 */
export function canRaiseFileLimit(to: number): { ok: true } | { ok: false; message: string } {
  const r = spawnSync("sh", ["-c", `ulimit -n ${to}`], { encoding: "utf8" });
  return r.status === 0 ? { ok: true } : { ok: false, message: r.stderr.trim() || `exit ${r.status}` };
}

export interface RelayProcess {
  url: string;
  pid: number;
  /** VmRSS and VmHWM (peak) of the relay process, MiB, as the kernel counts them. */
  rssMiB(): { rss: number; peak: number };
  /** The relay's own view: V8 heap and buffers outside it, MiB. */
  memory(): Promise<{ heapUsed: number; external: number; arrayBuffers: number }>;
  close(): Promise<void>;
}

/** Starts the compiled relay in a child process whose open-file limit is `fileLimit`. */
export async function startRelay(startServerJs: string, fileLimit: number): Promise<RelayProcess> {
  // In memory where the machine has it: this bench is about sockets, and setting up a thousand
  // devices through the API would otherwise wait on some 4,000 fsyncs (relay.bench measures those).
  const dataDir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "bench-sockets-"));
  // `exec` keeps the pid, so /proc/<pid> is the relay's own; the shell only sets the limit.
  const child = spawn(
    "sh",
    [
      "-c",
      `ulimit -n ${fileLimit} && exec "$0" "$@"`,
      process.execPath,
      "--input-type=module",
      "-e",
      relayScript,
      pathToFileURL(startServerJs).href,
      dataDir,
    ],
    { stdio: ["ignore", "ignore", "inherit", "ipc"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const { url } = await nextMessage<{ url: string }>(child, "listening", 30_000);
    return {
      url,
      pid: child.pid!,
      rssMiB: () => procStatusMiB(child.pid!),
      async memory() {
        child.send({ type: "memory" });
        const m = await nextMessage<{ heapUsed: number; external: number; arrayBuffers: number }>(
          child,
          "memory",
          10_000,
        );
        const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
        return { heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) };
      },
      async close() {
        if (child.connected) child.send({ type: "close" });
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

function procStatusMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return {
    rss: Math.round((kib("VmRSS") / 1024) * 10) / 10,
    peak: Math.round((kib("VmHWM") / 1024) * 10) / 10,
  };
}

/** The child's next IPC message of `type`; rejects if the child exits or takes longer than `ms`. */
export function nextMessage<T>(child: ChildProcess, type: string, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    const onMessage = (m: { type: string } & T) => {
      if (m.type !== type) return;
      done();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`child exited (code ${code}) while waiting for "${type}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${type}" from the child within ${ms} ms`));
    }, ms);
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}
