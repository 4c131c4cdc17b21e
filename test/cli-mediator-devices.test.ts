import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * The mediator's devices (staff) from the CLI, one process per command, each device with its own
 * keystore: link, join, devices, remove-device, with --json and human output.
 */
describe("backchannel mediator link / join / devices / remove-device", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const home = (who: string) => join(dir, who);

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-staff-"));
    ({ url, process: server } = await serveInChild(join(dir, "relay")));
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("a second device joins by link code, sees the channel, and is removed again", async () => {
    await cliJson(home("m1"), ["mediator", "init", "--server", url, "--name", "The mediator"]);
    await cliJson(home("m1"), [
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

    const joined = await cliJson<{ deviceId: string; joined: boolean; role: string }>(home("m2"), [
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

    await cliJson(home("m1"), ["inbox"]); // adds the new device to both caucuses
    const list = await cliJson<{ channels: { topic: string; caucuses: { partyName: string }[] }[] }>(
      home("m2"),
      ["channel", "list"],
    );
    expect(list.channels).toEqual([
      expect.objectContaining({
        topic: "no new strikes",
        caucuses: [expect.objectContaining({ partyName: "A" }), expect.objectContaining({ partyName: "B" })],
      }),
    ]);
    const devices = await cliJson<{
      devices: { deviceId: string; thisDevice: boolean; caucuses: unknown[] }[];
    }>(home("m1"), ["mediator", "devices"]);
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
    expect((await cliJson<{ devices: unknown[] }>(home("m1"), ["mediator", "devices"])).devices).toHaveLength(
      1,
    );
    // The relay no longer lets it log in: the CLI says so.
    const after = await cli(home("m2"), ["inbox", "--json"]);
    expect(after.code).toBe(1);
    expect(JSON.parse(after.stdout)).toMatchObject({ error: "device_removed" });
    const self = await cli(home("m2"), ["mediator", "remove-device", joined.deviceId, "--json"]);
    expect(JSON.parse(self.stdout)).toMatchObject({ error: "cannot_remove_self" });
  });
});
