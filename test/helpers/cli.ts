import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** Runs the real `backchannel` CLI, one process per command, as users do. */
export const repoRoot = resolve(import.meta.dirname, "..", "..");
const bin = join(repoRoot, "bin", "backchannel.js");
export const PASSPHRASE = "correct horse battery staple";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function ensureCliBuilt(): void {
  if (!existsSync(join(repoRoot, "dist", "cli", "main.js")))
    execFileSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "ignore" });
}

/** `home` is the device's keystore directory (BACKCHANNEL_HOME); undefined leaves it unset. */
export function cli(
  home: string | undefined,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: {
        ...process.env,
        NO_COLOR: "1",
        BACKCHANNEL_PASSPHRASE: PASSPHRASE,
        ...(home ? { BACKCHANNEL_HOME: home } : {}),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // Decoded as a stream: a character split across two chunks (long unicode output) stays whole.
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (stdout += d));
    child.stderr.on("data", (d: string) => (stderr += d));
    child.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs with --json and parses the output; a non-zero exit fails with everything it printed. */
export async function cliJson<T = Record<string, unknown>>(home: string, args: string[]): Promise<T> {
  const r = await cli(home, [...args, "--json"]);
  if (r.code !== 0) throw new Error(`backchannel ${args.join(" ")} exited ${r.code}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Starts `backchannel <args>` and resolves with the first match of `pattern` in what it prints. */
function startInChild(
  args: string[],
  pattern: RegExp,
  from: "stdout" | "stderr",
  env: Record<string, string> = {},
): Promise<{ url: string; process: ChildProcess; printed: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", from === "stdout" ? "pipe" : "ignore", from === "stderr" ? "pipe" : "ignore"],
  });
  return new Promise((res, rej) => {
    let printed = "";
    child[from]!.on("data", (d: Buffer) => {
      printed += d.toString();
      const m = pattern.exec(printed);
      if (m) res({ url: m[1]!, process: child, printed: () => printed });
    });
    child.on("exit", () => rej(new Error(`backchannel ${args[0]} exited: ${printed}`)));
  });
}

/**
 * `backchannel serve` on a free port in its own process; resolves with its URL and what it printed.
 * Registration is open unless `env` or `extra` says otherwise: CLI tests register mediators freely.
 */
export function serveInChild(
  dataDir: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<{ url: string; process: ChildProcess; printed: () => string }> {
  return startInChild(
    ["serve", "--port", "0", "--data-dir", dataDir, ...extra],
    /listening on (http:\/\/\S+)/,
    "stderr",
    { BACKCHANNEL_REGISTRATION: "open", ...env },
  );
}

/** `backchannel console --server relayUrl` on a free port; resolves with the console's URL. */
export function consoleInChild(relayUrl: string): Promise<{ url: string; process: ChildProcess }> {
  return startInChild(
    ["console", "--server", relayUrl, "--port", "0"],
    /Backchannel console: (http:\/\/\S+?)\/ /,
    "stdout",
  );
}

/**
 * Runs `backchannel <args>` with its stdout a pipe whose reading end is closed before the command
 * writes (as `backchannel inbox | head -1` once head has its line): every write to it fails.
 */
export function cliIntoClosedPipe(home: string, args: string[]): Promise<Omit<Run, "stdout">> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, NO_COLOR: "1", BACKCHANNEL_PASSPHRASE: PASSPHRASE, BACKCHANNEL_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d));
    child.on("close", (code) => res({ code: code ?? -1, stderr }));
  });
}
