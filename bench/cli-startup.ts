import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cliJson, ensureCliBuilt, PASSPHRASE, repoRoot, serveInChild } from "../test/helpers/cli.js";
import { intEnv } from "./env.js";
import { median, nowMs, round } from "./stats.js";

/**
 * How long a CLI command takes as a whole process, start to exit, as a user runs it (issue 12,
 * item 9): `npx tsx bench/cli-startup.ts > cli.json`. A real relay (`backchannel serve`) in its
 * own process, a mediator and one admitted handler with real keystores; then, in rounds, each
 * command once, in turn, so that a machine that slows down slows them all alike:
 *
 *   node -e 0         Node's own start, the floor every command pays
 *   import sdk        `node` importing the sdk and its Node adapter, nothing else: module loading
 *   scrypt unlock     `node` deriving one keystore key (scrypt N=2^17, r=8): the unlock's floor
 *   whoami / inbox / send   the handler's commands (inbox: nothing new; send: one signal), each
 *                     run by the CLI itself (BACKCHANNEL_NO_AGENT) and, as `agent …`, forwarded to
 *                     an agent (`backchannel agent start`) that holds the device unlocked
 *
 * Prints JSON: per command the median, min and max wall time (ms) and the median over Node's
 * own start. BENCH_CLI_ROUNDS (default 7) rounds.
 */
const rounds = intEnv("BENCH_CLI_ROUNDS", 7, 1);
const bin = join(repoRoot, "bin", "backchannel.js");
const dist = (p: string) => pathToFileURL(join(repoRoot, "dist", p)).href;

/** Runs `node args`, output discarded; resolves with its wall time, or rejects on a non-zero exit. */
function timed(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = nowMs();
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(nowMs() - start) : reject(new Error(`node ${args.join(" ")} exited ${code}`)),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), "backchannel-bench-cli-"));
ensureCliBuilt();
const relay = await serveInChild(join(dir, "relay"));
try {
  const home = (who: string) => join(dir, who);
  await cliJson(home("m"), ["mediator", "init", "--server", relay.url, "--name", "M"]);
  await cliJson(home("m"), ["channel", "create", "--topic", "T", "--party", "A", "--party", "B"]);
  const { code } = await cliJson<{ code: string }>(home("m"), ["channel", "invite", "A", "--no-confirm"]);
  await cliJson(home("a"), ["join", code]);
  await cliJson(home("m"), ["inbox"]); // admits A's handler
  await cliJson(home("a"), ["inbox"]); // A's handler joins its caucus

  await cliJson(home("a"), ["agent", "start", "--ttl", "15m"]);
  const device = { NO_COLOR: "1", BACKCHANNEL_PASSPHRASE: PASSPHRASE, BACKCHANNEL_HOME: home("a") };
  const local = { ...device, BACKCHANNEL_NO_AGENT: "1" };
  const commands: Record<string, [string[], Record<string, string>?]> = {
    "node -e 0": [["-e", "0"]],
    "import sdk": [
      [
        "--input-type=module",
        "-e",
        `await import(${JSON.stringify(dist("sdk/index.js"))}); await import(${JSON.stringify(dist("sdk/node.js"))});`,
      ],
    ],
    "scrypt unlock": [
      [
        "-e",
        "require('node:crypto').scryptSync('p', Buffer.alloc(16), 48, { N: 2 ** 17, r: 8, p: 1, maxmem: 2 ** 28 })",
      ],
    ],
    whoami: [[bin, "whoami"], local],
    inbox: [[bin, "inbox"], local],
    send: [[bin, "send", "--text", "a signal"], local],
    "agent whoami": [[bin, "whoami"]],
    "agent inbox": [[bin, "inbox"]],
    "agent send": [[bin, "send", "--text", "a signal"]],
  };
  const times = new Map(Object.keys(commands).map((k) => [k, [] as number[]]));
  for (const [args, env] of Object.values(commands)) await timed(args, env ?? device); // warm-up
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`round ${r + 1}/${rounds}\n`);
    for (const [name, [args, env]] of Object.entries(commands))
      times.get(name)!.push(await timed(args, env ?? device));
  }
  const floor = median(times.get("node -e 0")!);
  const out: Record<string, unknown> = { rounds, nodeVersion: process.version };
  for (const [name, xs] of times)
    out[name] = {
      medianMs: round(median(xs)),
      minMs: round(Math.min(...xs)),
      maxMs: round(Math.max(...xs)),
      overNodeStartMs: round(median(xs) - floor),
    };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  await cliJson(join(dir, "a"), ["agent", "stop"]).catch(() => undefined);
  relay.process.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
