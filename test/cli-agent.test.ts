import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, cliJson, ensureCliBuilt, PASSPHRASE, repoRoot, serveInChild, type Run } from "./helpers/cli.js";

/**
 * The CLI's agent (issue 12, item 9): `backchannel agent start` unlocks the keystore once in a
 * background process, and the CLI then hands commands to it over a unix socket in the data dir
 * without loading the sdk itself. Asserted on what happens, never on a time
 * (bench/cli-startup.ts measures the times).
 */
describe("CLI agent", () => {
  let dir: string;
  let relay: ChildProcess;
  const home = (who: string) => join(dir, who);
  /** The commands compared with and without an agent: the same output and exit code. */
  const compared = [
    ["whoami"],
    ["whoami", "--json"],
    ["inbox"],
    ["inbox", "--json"],
    ["show", "no-such-event"],
    ["show", "no-such-event", "--json"],
    ["send"], // usage: no text
  ];
  const local = new Map<string, Run>();
  let localSend: Record<string, unknown>;
  const status = async (who: string) =>
    cliJson<{ running: boolean; pid?: number; served?: number }>(home(who), ["agent", "status"]);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const until = async (what: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 100));
    return what();
  };

  /** Runs the CLI under a module-resolution trace: resolves with the run and the URLs it loaded. */
  function traced(who: string, args: string[]): Promise<Run & { modules: string[] }> {
    const trace = join(dir, `trace-${Math.random().toString(36).slice(2)}`);
    return new Promise((res) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          join(repoRoot, "test", "helpers", "module-trace.mjs"),
          join(repoRoot, "bin", "backchannel.js"),
          ...args,
        ],
        {
          env: {
            ...process.env,
            NO_COLOR: "1",
            BACKCHANNEL_PASSPHRASE: PASSPHRASE,
            BACKCHANNEL_HOME: home(who),
            MODULE_TRACE: trace,
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) =>
        res({
          code: code ?? -1,
          stdout,
          stderr,
          modules: existsSync(trace) ? readFileSync(trace, "utf8").split("\n") : [],
        }),
      );
    });
  }

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-agent-"));
    const served = await serveInChild(join(dir, "relay"));
    relay = served.process;
    await cliJson(home("m"), ["mediator", "init", "--server", served.url, "--name", "M"]);
    await cliJson(home("m"), ["channel", "create", "--topic", "T", "--party", "A", "--party", "B"]);
    const { code } = await cliJson<{ code: string }>(home("m"), ["channel", "invite", "A", "--no-confirm"]);
    await cliJson(home("a"), ["join", code]);
    await cliJson(home("m"), ["inbox"]); // admits A's handler
    await cliJson(home("a"), ["inbox"]); // A's handler joins its caucus
    localSend = await cliJson(home("a"), ["send", "--text", "before the agent"]);
    for (const args of compared) local.set(args.join(" "), await cli(home("a"), args));
  }, 120_000);
  afterAll(async () => {
    for (const who of ["a", "m"]) await cli(home(who), ["agent", "stop"]);
    relay?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("without an agent, the CLI loads the sdk itself", async () => {
    expect(await status("a")).toEqual({ running: false });
    const r = await traced("a", ["whoami"]);
    expect(r.code).toBe(0);
    expect(r.modules.some((u) => u.includes("/ts-mls/"))).toBe(true);
  });

  test("with an agent, commands are served by it, with the same output, and the CLI loads no sdk", async () => {
    const started = await cliJson<{ pid: number; socket: string }>(home("a"), ["agent", "start"]);
    expect(alive(started.pid)).toBe(true);
    for (const args of compared) {
      const r = await cli(home("a"), args);
      expect(r, args.join(" ")).toEqual(local.get(args.join(" ")));
    }
    // The passphrase is not needed once the agent holds the device.
    const noPassphrase = await cli(home("a"), ["whoami"], { BACKCHANNEL_PASSPHRASE: "" });
    expect(noPassphrase).toEqual(local.get("whoami"));
    const sent = await cli(home("a"), ["send", "--text", "through the agent", "--json"]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(Object.keys(JSON.parse(sent.stdout) as object).sort()).toEqual(Object.keys(localSend).sort());

    const r = await traced("a", ["whoami"]);
    expect(r.stdout).toBe(local.get("whoami")!.stdout);
    expect(r.modules.some((u) => u.includes("/ts-mls/") || u.includes("/dist/sdk/"))).toBe(false);
    expect((await status("a")).served).toBe(compared.length + 3);
  });

  test("the agent reads stdin for --text-file - and relative paths from the CLI's directory", async () => {
    const run = (args: string[], input: string) =>
      new Promise<Run>((res) => {
        const child = spawn(process.execPath, [join(repoRoot, "bin", "backchannel.js"), ...args, "--json"], {
          env: { ...process.env, NO_COLOR: "1", BACKCHANNEL_HOME: home("a") },
          cwd: dir,
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(input);
      });
    const served = (await status("a")).served!;
    const fromStdin = await run(["send", "--text-file", "-"], "from stdin");
    expect(fromStdin.code, fromStdin.stdout + fromStdin.stderr).toBe(0);
    writeFileSync(join(dir, "signal.txt"), "from a file");
    const fromFile = await run(["send", "--text-file", "signal.txt"], "");
    expect(fromFile.code, fromFile.stdout + fromFile.stderr).toBe(0);
    expect((await status("a")).served).toBe(served + 2);
  });

  test("BACKCHANNEL_NO_AGENT runs a command in the CLI itself, and the agent sees what it wrote", async () => {
    const served = (await status("a")).served!;
    const sent = await cli(home("a"), ["send", "--text", "beside the agent"], { BACKCHANNEL_NO_AGENT: "1" });
    expect(sent.code, sent.stderr).toBe(0);
    expect((await status("a")).served).toBe(served);
    // The agent's next command starts from the device's state as that send left it (its ratchet
    // moved on): a send from a stale copy would reuse a message key, and the transcripts break.
    const next = await cli(home("a"), ["send", "--text", "through the agent, after"]);
    expect(next.code, next.stderr).toBe(0);
    const inbox = await cli(home("a"), ["inbox"]);
    expect(inbox.code, inbox.stdout + inbox.stderr).toBe(0);
    expect(inbox.stdout).toContain("beside the agent");
    const mediator = await cli(home("m"), ["inbox"], { BACKCHANNEL_NO_AGENT: "1" });
    expect(mediator.code, mediator.stdout + mediator.stderr).toBe(0);
    expect(mediator.stdout).toContain("through the agent, after");
    expect((await status("a")).served).toBe(served + 2);
  });

  test("the CLI and the agent refuse a socket or directory others could reach", async () => {
    const agentDir = join(home("a"), "agent");
    chmodSync(agentDir, 0o755);
    try {
      const r = await cli(home("a"), ["whoami"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("agent_unsafe");
    } finally {
      chmodSync(agentDir, 0o700);
    }
    chmodSync(join(agentDir, "agent.sock"), 0o666);
    try {
      const r = await cli(home("a"), ["whoami", "--json"]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: "agent_unsafe" });
    } finally {
      chmodSync(join(agentDir, "agent.sock"), 0o600);
    }
    expect((await cli(home("a"), ["whoami"])).code).toBe(0);
  });

  test("`agent stop` ends it and commands run locally again", async () => {
    const { pid } = await status("a");
    expect(await cliJson(home("a"), ["agent", "stop"])).toMatchObject({ stopped: true, pid });
    expect(await until(() => !alive(pid!))).toBe(true);
    expect(existsSync(join(home("a"), "agent", "agent.sock"))).toBe(false);
    expect(await cli(home("a"), ["whoami"])).toEqual(local.get("whoami"));
    const none = await cli(home("a"), ["agent", "stop", "--json"]);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({ error: "agent_not_running" });
  });

  test("an agent with a refused passphrase does not start", async () => {
    const r = await cli(home("m"), ["agent", "start", "--json"], {
      BACKCHANNEL_PASSPHRASE: "not the passphrase at all",
    });
    expect(r.code).toBe(1);
    expect((await status("m")).running).toBe(false);
  });

  test("a data dir whose socket path would be too long is refused in words, before anything starts", async () => {
    const deep = join(dir, "d".repeat(60), "e".repeat(60));
    cpSync(home("m"), deep, { recursive: true });
    const r = await cli(deep, ["agent", "start", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: "agent_path_too_long" });
    expect(JSON.parse(r.stdout).message).toContain("at most 103");
    expect(existsSync(join(deep, "agent", "agent.sock"))).toBe(false);
  });

  test("an agent stops by itself after its TTL without a command", async () => {
    const { pid } = await cliJson<{ pid: number }>(home("m"), ["agent", "start", "--ttl", "2s"]);
    expect((await cli(home("m"), ["whoami"])).code).toBe(0);
    expect(await until(() => !alive(pid))).toBe(true);
    expect((await status("m")).running).toBe(false);
  });
});
