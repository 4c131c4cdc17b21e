import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "../src/server/start-server.js";
import type { RelayKind, RelayProcessMessage } from "./relay-alone-process.js";

/**
 * A relay in a child process (relay-alone-process.ts), so that the bench process's CPU is the
 * clients' alone and the relay's is read from the child.
 */
/** A relay-alone-process.ts child: its URL, its CPU so far, and a clean close. */
export class RelayProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(kind: RelayKind, dataDir: string, cpuProfDir?: string): Promise<RelayProcess> {
    const child = fork(fileURLToPath(new URL("./relay-alone-process.ts", import.meta.url)), [kind, dataDir], {
      // The parent's flags carry tsx's loader. The relay's request log (its stdout) goes to
      // /dev/null, written as in production; its stderr is ours.
      execArgv: [...process.execArgv, ...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [])],
      stdio: ["ignore", "ignore", 2, "ipc"],
    });
    const { url } = await new Promise<{ url: string }>((resolve, reject) => {
      child.once("message", (m: RelayProcessMessage) =>
        "url" in m ? resolve(m) : reject(new Error("no url")),
      );
      child.once("exit", (code) => reject(new Error(`${kind} relay exited (${code}) before listening`)));
    });
    return new RelayProcess(child, url);
  }

  cpuMs(): Promise<number> {
    return new Promise((resolve) => {
      this.child.once("message", (m: RelayProcessMessage) => resolve("cpuMs" in m ? m.cpuMs : NaN));
      this.child.send("cpu");
    });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.send("close");
    });
  }
}

/**
 * The real relay in a child process with a fresh data directory, as the test network's server:
 * the send and receive phases read the devices' CPU in this process and the relay's from it.
 */
export async function startRelayProcess(): Promise<RunningServer & { cpuMs(): Promise<number> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-bench-relay-"));
  const relay = await RelayProcess.start("real", dataDir);
  return {
    url: relay.url,
    port: Number(new URL(relay.url).port),
    dataDir,
    cpuMs: () => relay.cpuMs(),
    async close() {
      await relay.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
