import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/**
 * The mediator's devices (staff) from the CLI, one process per command, each device with its own
 * keystore: link, join, devices, remove-device, with --json and human output.
 */
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "bin", "backchannel.js");
const PASS = "correct horse battery staple";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(home: string, args: string[]): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, NO_COLOR: "1", BACKCHANNEL_PASSPHRASE: PASS, BACKCHANNEL_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

async function json<T = Record<string, unknown>>(home: string, args: string[]): Promise<T> {
  const r = await cli(home, [...args, "--json"]);
  if (r.code !== 0) throw new Error(`backchannel ${args.join(" ")} exited ${r.code}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe("backchannel mediator link / join / devices / remove-device", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const home = (who: string) => join(dir, who);

  beforeAll(async () => {
    if (!existsSync(join(root, "dist", "cli", "main.js")))
      execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-staff-"));
    server = spawn(process.execPath, [bin, "serve", "--port", "0", "--data-dir", join(dir, "relay")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    url = await new Promise<string>((res, rej) => {
      let err = "";
      server.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(err);
        if (m) res(m[1]!);
      });
      server.on("exit", () => rej(new Error(`server exited: ${err}`)));
    });
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("a second device joins by link code, sees the channel, and is removed again", async () => {
    await json(home("m1"), ["mediator", "init", "--server", url, "--name", "The mediator"]);
    await json(home("m1"), [
      "channel",
      "create",
      "--topic",
      "no new strikes",
      "--party",
      "A",
      "--party",
      "B",
    ]);

    const human = await cli(home("m1"), ["mediator", "link"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("carries the mediator's identity key");
    const code = /^(bc1m-\S+)$/m.exec(human.stdout)?.[1];
    expect(code).toBeDefined();

    const joined = await json<{ deviceId: string; joined: boolean; role: string }>(home("m2"), [
      "mediator",
      "join",
      code!,
    ]);
    expect(joined).toMatchObject({ role: "mediator", joined: false });

    // The link was one-time: a third device cannot use it, with a typed error and exit 1.
    const again = await cli(home("m3"), ["mediator", "join", code!, "--json"]);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ error: "invite_used" });
    expect(existsSync(join(home("m3"), "device.json"))).toBe(false);
    const damaged = await cli(home("m4"), ["mediator", "join", "bc1m-nonsense"]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain("[link_code_invalid]");

    await json(home("m1"), ["inbox"]); // adds the new device to both caucuses
    const list = await json<{ channels: { topic: string; caucuses: { partyName: string }[] }[] }>(
      home("m2"),
      ["channel", "list"],
    );
    expect(list.channels).toEqual([
      expect.objectContaining({
        topic: "no new strikes",
        caucuses: [expect.objectContaining({ partyName: "A" }), expect.objectContaining({ partyName: "B" })],
      }),
    ]);
    const devices = await json<{ devices: { deviceId: string; thisDevice: boolean; caucuses: unknown[] }[] }>(
      home("m1"),
      ["mediator", "devices"],
    );
    expect(devices.devices.map((d) => [d.thisDevice, d.caucuses.length])).toEqual([
      [true, 2],
      [false, 2],
    ]);
    expect(devices.devices[1]!.deviceId).toBe(joined.deviceId);
    const shown = await cli(home("m2"), ["mediator", "devices"]);
    expect(shown.stdout).toContain(`${joined.deviceId} (this device) — in 2 caucus(es)`);

    const removed = await cli(home("m1"), ["mediator", "remove-device", joined.deviceId]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`Removed device ${joined.deviceId}: 2 caucus(es) re-keyed`);
    expect((await json<{ devices: unknown[] }>(home("m1"), ["mediator", "devices"])).devices).toHaveLength(1);
    const after = await cli(home("m2"), ["inbox"]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain("this device was removed from the caucus");
    const self = await cli(home("m2"), ["mediator", "remove-device", joined.deviceId, "--json"]);
    expect(JSON.parse(self.stdout)).toMatchObject({ error: "cannot_remove_self" });
  });
});
