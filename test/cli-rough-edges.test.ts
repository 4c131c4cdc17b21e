import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, cliIntoClosedPipe, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * What a new user hit in the CLI (issue 12, items 3–8): each state a device can be in is said,
 * in words and with --json, and a command that cannot do its work exits non-zero, typed.
 */
describe("the CLI says where a device stands", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const home = (who: string) => join(dir, who);
  const invite = async (party: string) =>
    (await cliJson<{ code: string }>(home("m"), ["channel", "invite", party])).code;

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-edges-"));
    ({ url, process: server } = await serveInChild(join(dir, "relay")));
    await cliJson(home("m"), ["mediator", "init", "--server", url, "--name", "M"]);
    await cliJson(home("m"), ["channel", "create", "--topic", "T", "--party", "North", "--party", "South"]);
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("join --wait that runs out exits 5, admission_timeout, and the device still waits; its --name shows in whoami", async () => {
    const timedOut = await cli(home("North"), [
      "join",
      await invite("North"),
      "--name",
      "North's laptop",
      "--wait",
      "1",
      "--json",
    ]);
    expect(timedOut.code).toBe(5);
    const body = JSON.parse(timedOut.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({ joined: false, name: "North's laptop", error: "admission_timeout" });
    expect(body.message).toContain("within 1 s");
    expect(body.deviceId).toEqual(expect.any(String));

    const human = await cli(home("South"), ["join", await invite("South"), "--wait", "1"]);
    expect(human.code).toBe(5);
    expect(human.stdout).toContain("Not admitted within 1 s");
    expect(human.stderr).toContain("[admission_timeout]");

    const who = await cliJson(home("North"), ["whoami"]);
    expect(who).toMatchObject({ name: "North's laptop", joined: false, removed: false });
    expect((await cli(home("North"), ["whoami"])).stdout).toContain("device name: North's laptop");
  }, 60_000);

  test("send before the mediator admitted the device says it waits for admission (not_joined)", async () => {
    const r = await cli(home("North"), ["send", "--text", "too early", "--json"]);
    expect(r.code).toBe(1);
    const body = JSON.parse(r.stdout) as { error: string; message: string };
    expect(body.error).toBe("not_joined");
    expect(body.message).toContain("waits for the mediator to admit it");
    const human = await cli(home("North"), ["send", "--text", "too early"]);
    expect(human.stderr).toContain("waits for the mediator to admit it");
  }, 30_000);

  test("inbox --caucus with a party this device has no caucus for is caucus_unknown, not “No caucuses yet.”", async () => {
    for (const p of ["North", "South"]) await cliJson(home("m"), ["admit", p]);
    await cliJson(home("South"), ["inbox"]);
    const r = await cli(home("South"), ["inbox", "--caucus", "North", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: "caucus_unknown" });
    const human = await cli(home("South"), ["inbox", "--caucus", "North"]);
    expect(human.code).toBe(1);
    expect(human.stdout).not.toContain("No caucuses yet");
    expect(human.stderr).toContain("no caucus called “North”");
    // Its own party still selects its caucus.
    const own = await cliJson<{ caucuses: unknown[] }>(home("South"), ["inbox", "--caucus", "south"]);
    expect(own.caucuses).toHaveLength(1);
  }, 30_000);

  test("output into a pipe closed early (`| head -1`) exits quietly", async () => {
    for (const args of [["inbox"], ["whoami"], ["--help"]]) {
      const r = await cliIntoClosedPipe(home("South"), args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
  }, 30_000);

  test("a removed device says so in whoami, inbox and verify, with --json and in words", async () => {
    const { deviceId } = await cliJson<{ deviceId: string }>(home("North"), ["whoami"]);
    await cliJson(home("North"), ["send", "--text", "before removal"]);
    await cliJson(home("m"), ["remove", "--caucus", "North", "--device", deviceId]);

    // The first command after the removal learns it from the relay (and the mediator's signed
    // word); it and every later one report the transcript and fail with device_removed.
    const verify = await cli(home("North"), ["verify", "--json"]);
    expect(verify.code).toBe(1);
    const v = JSON.parse(verify.stdout) as {
      ok: boolean;
      removed?: boolean;
      error?: string;
      caucuses: { removed?: boolean }[];
    };
    expect(v).toMatchObject({ ok: true, removed: true, error: "device_removed" });
    expect(v.caucuses[0]!.removed).toBe(true);
    const verifyHuman = await cli(home("North"), ["verify"]);
    expect(verifyHuman.code).toBe(1);
    expect(verifyHuman.stdout).toContain("this device was removed");
    expect(verifyHuman.stderr).toContain("[device_removed] the mediator removed this device");

    expect(await cliJson(home("North"), ["whoami"])).toMatchObject({ joined: false, removed: true });
    expect((await cli(home("North"), ["whoami"])).stdout).toContain("REMOVED");

    const inbox = await cli(home("North"), ["inbox", "--json"]);
    expect(inbox.code).toBe(1);
    const i = JSON.parse(inbox.stdout) as { error?: string; caucuses: { removed?: boolean }[] };
    expect(i.error).toBe("device_removed");
    expect(i.caucuses[0]!.removed).toBe(true);
    expect((await cli(home("North"), ["inbox"])).stdout).toContain("this device was removed");

    // South, not removed, says nothing of the kind.
    expect(await cliJson(home("South"), ["whoami"])).toMatchObject({ joined: true, removed: false });
    const southInbox = await cliJson<{ caucuses: { removed?: boolean }[] }>(home("South"), ["inbox"]);
    expect(southInbox.caucuses[0]!.removed).toBeUndefined();
  }, 60_000);
});
