import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { RunningServer } from "../src/server/start-server.js";

/**
 * The real relay in a child process, so that the bench process's CPU time is the devices' alone
 * (the sender's cost, issue 8) and the relay's is read from the child. Speaks one line per
 * request on stdin/stdout: "cpu" → the child's user+system CPU in ms.
 */
export interface RelayProcess extends RunningServer {
  cpuMs(): Promise<number>;
}

const CHILD = new URL("./relay-child.ts", import.meta.url).pathname;

export async function startRelayProcess(): Promise<RelayProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-bench-relay-"));
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const next = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      child.once("exit", (code) => reject(new Error(`relay process exited (${code})`)));
    });
  const url = await next();
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    async cpuMs() {
      const answer = next();
      child.stdin.write("cpu\n");
      return Number(await answer);
    },
    async close() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
