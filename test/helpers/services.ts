import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureCliBuilt, repoRoot } from "./cli.js";

/**
 * Services of a test's own, which it may kill and restart without disturbing the machine's
 * (other test files use those at the same time): a PostgreSQL cluster in a temp dir, a NATS
 * server, relay nodes as `backchannel serve` processes, and an L4 proxy in front of the nodes as
 * a deployment's reverse proxy would be.
 */

/** A free TCP port on 127.0.0.1 (free now; the caller binds it at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function postgresBin(name: string): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, "bin", name);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `PostgreSQL's ${name} not found under ${root}: install the server (apt-get install -y postgresql)`,
  );
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** Stops the cluster (mode "immediate" is a crash: no checkpoint, recovery at next start). */
  stop(mode?: "fast" | "immediate"): void;
  start(): void;
  /** Stops for good and deletes the cluster. */
  destroy(): void;
  /** The postmaster's pid while the cluster runs (its backends and workers are its children). */
  pid(): number;
}

/**
 * A PostgreSQL cluster of the test's own. initdb refuses to run as root, so as root it runs as
 * the `postgres` user (the Debian package makes it).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "backchannel-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), 0);
  const run = (bin: string, args: string[]): void => {
    const [cmd, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", postgresBin(bin), ...args]]
      : [postgresBin(bin), args];
    execFileSync(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] });
  };
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = (): void => run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const stop = (mode: "fast" | "immediate" = "fast"): void =>
    run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    pid: () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]),
    destroy() {
      try {
        stop("immediate");
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateNats {
  url: string;
  /** The server's pid while it runs. */
  pid(): number | undefined;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** A core NATS server of the test's own (the Debian package's nats-server). */
export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const bin = existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
    child = spawn(bin, ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    const spawned = child;
    await new Promise<void>((resolve, reject) => {
      spawned.once("error", (e) => reject(new Error(`cannot start nats-server: ${e.message}`)));
      void waitForPort(port).then(resolve, reject);
    });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: () => child?.pid,
    start,
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGKILL");
      });
    },
  };
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RelayNode {
  url: string;
  port: number;
  /** The node's pid while it runs. */
  pid(): number | undefined;
  /** What the node wrote to stderr (its human lines; errors). */
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** How the running node process ends: its exit code, or the signal that ended it. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts it again on the same port (after a kill). */
  restart(): Promise<void>;
}

export interface RelayNodeOptions {
  /**
   * The compiled CLI to run (its cli/main.js) instead of bin/backchannel.js with dist/, e.g. one
   * compiled from the working tree so that a bench never measures a stale dist/.
   */
  cliMain?: string;
  /** Flags for node itself, e.g. --cpu-prof. */
  execArgv?: string[];
}

/** A relay node: `backchannel serve` in a process of its own, on a port of its own. */
export async function startRelayNode(
  env: Record<string, string>,
  options: RelayNodeOptions = {},
): Promise<RelayNode> {
  if (!options.cliMain) ensureCliBuilt();
  const entry = options.cliMain ?? join(repoRoot, "bin", "backchannel.js");
  const port = await freePort();
  let child: ChildProcess | undefined;
  let err = "";
  const start = async (): Promise<void> => {
    child = spawn(process.execPath, [...(options.execArgv ?? []), entry, "serve"], {
      // Open registration unless `env` says otherwise: test and bench nodes register mediators freely.
      env: {
        ...process.env,
        BACKCHANNEL_HOST: "127.0.0.1",
        BACKCHANNEL_PORT: String(port),
        BACKCHANNEL_REGISTRATION: "open",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const started = child;
    await new Promise<void>((resolve, reject) => {
      started.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes("listening on")) resolve();
      });
      started.once("exit", (code) =>
        reject(new Error(`relay node exited (${code}) before listening:\n${err}`)),
      );
    });
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid,
    stderr: () => err,
    restart: start,
    exited() {
      const c = child;
      if (!c) return Promise.reject(new Error("the node was never started"));
      if (c.exitCode !== null || c.signalCode !== null)
        return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
      return new Promise((resolve) => c.once("exit", (code, signal) => resolve({ code, signal })));
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill(signal);
      });
    },
  };
}

export interface FailoverProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * What a reverse proxy in front of several relay nodes does, at the TCP level: each new
 * connection goes to the preferred node, or to the next one that accepts when that one is down.
 * Open connections to a node that dies die with it; the client's next connection lands elsewhere.
 */
export async function startFailoverProxy(ports: readonly number[], preferred = 0): Promise<FailoverProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.pause();
    const tryNode = (i: number): void => {
      if (i >= ports.length) {
        client.destroy();
        return;
      }
      const upstream = connect(ports[(preferred + i) % ports.length]!, "127.0.0.1");
      let connected = false;
      upstream.once("error", () => {
        if (!connected) tryNode(i + 1);
      });
      upstream.once("connect", () => {
        connected = true;
        sockets.add(upstream);
        upstream.on("error", () => client.destroy());
        upstream.on("close", () => (sockets.delete(upstream), client.destroy()));
        client.on("error", () => upstream.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryNode(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
