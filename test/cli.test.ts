import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { deletionHour } from "../src/protocol/index.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { cli, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * The CLI as users run it: a relay in its own process and one process per command, each device
 * with its own keystore directory. Three parties with non-ASCII names.
 */
describe("backchannel CLI", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const home = (who: string) => join(dir, who);
  const parties = ["Nord", "Süd", "Ост"];

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-"));
    ({ url, process: server } = await serveInChild(join(dir, "relay")));
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  const seqOf = (
    inbox: { caucuses: { entries: { seq: number; payload?: { body: { type: string } } }[] }[] },
    type: string,
  ) => inbox.caucuses[0]!.entries.filter((e) => e.payload?.body.type === type).map((e) => e.seq);

  test("the story across processes: init, channel, invite, join, send, convey, acknowledge, verify", async () => {
    const init = await cliJson(home("m"), ["mediator", "init", "--server", url, "--name", "Médiatrice"]);
    expect(init.role).toBe("mediator");
    expect(statSync(join(home("m"), "device.json")).mode & 0o777).toBe(0o600);

    const channel = await cliJson<{ channelId: string; caucuses: { partyName: string }[] }>(home("m"), [
      "channel",
      "create",
      "--topic",
      "Waffenruhe — 停火",
      ...parties.flatMap((p) => ["--party", p]),
    ]);
    expect(channel.caucuses.map((c) => c.partyName)).toEqual(parties);

    for (const p of parties) {
      const inv = await cliJson<{ code: string }>(home("m"), ["channel", "invite", p]);
      expect(inv.code).toMatch(/^bc1-/);
      const joined = await cliJson(home(p), ["join", inv.code]);
      expect(joined.joined).toBe(false);
    }
    // Nobody is admitted before the mediator compares codes; inbox says who waits.
    const inbox = await cliJson<{ pendingAdmissions: { partyName: string }[] }>(home("m"), ["inbox"]);
    expect(inbox.pendingAdmissions.map((a) => a.partyName).sort()).toEqual([...parties].sort());
    const { pending } = await cliJson<{ pending: { partyName: string; verificationCode: string }[] }>(
      home("m"),
      ["admissions"],
    );
    for (const p of parties) {
      const who = await cliJson<{ role: string; verificationCode: string }>(home(p), ["whoami"]);
      expect(who.role).toBe("party");
      expect(pending.find((a) => a.partyName === p)?.verificationCode).toBe(who.verificationCode);
      expect(await cliJson(home("m"), ["admit", p])).toMatchObject({ party: p });
    }
    // Logging out revokes every token of the device; the next command logs in again.
    expect((await cliJson<{ revoked: number }>(home("Nord"), ["logout"])).revoked).toBeGreaterThanOrEqual(1);

    const sent = await cliJson<{ seq: number }>(home("Nord"), [
      "send",
      "--text",
      "Wir wollen keine Eskalation.",
      "--disclosure",
      "substance",
      "--timeline",
      "bis Freitag",
    ]);
    const human = await cli(home("Nord"), ["inbox"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(
      "no commitment · no coordination · no obligation · no guarantees · timeline: bis Freitag",
    );
    expect(human.stdout).toContain("“Wir wollen keine Eskalation.”");

    // Substance-only cannot go verbatim: typed error, non-zero exit, nothing conveyed.
    const refused = await cli(home("m"), [
      "convey",
      "--from",
      "Nord",
      "--event",
      String(sent.seq),
      "--mode",
      "verbatim",
      "--json",
    ]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: "disclosure_substance_only" });

    await cliJson(home("m"), [
      "convey",
      "--from",
      "Nord",
      "--event",
      String(sent.seq),
      "--mode",
      "substance",
      "--text",
      "Nord sucht keine Eskalation.",
      "--to",
      "Süd",
    ]);
    const sud = await cli(home("Süd"), ["inbox"]);
    expect(sud.stdout).toContain("conveyed signal from Nord (in substance)");
    expect(sud.stdout).toContain("timeline: bis Freitag");
    expect(sud.stdout).not.toContain("Wir wollen keine Eskalation.");
    const ost = await cliJson<{ caucuses: { entries: unknown[] }[] }>(home("Ост"), ["inbox"]);
    expect(JSON.stringify(ost)).not.toContain("Eskalation"); // not a target

    const sudInbox = await cliJson<Parameters<typeof seqOf>[0]>(home("Süd"), ["inbox"]);
    const convSeq = seqOf(sudInbox, "conveyance")[0]!;
    // Without --disclosure an acknowledgement is, like a signal, substance only (and `ack --help`
    // says so): the mediator cannot convey it verbatim.
    expect((await cli(home("Süd"), ["ack", "--help"])).stdout).toMatch(
      /--disclosure[^]*default:\s+"substance"/,
    );
    const ack = await cliJson<{ seq: number; payload: { body: unknown } }>(home("Süd"), [
      "ack",
      String(convSeq),
      "--text",
      "Erhalten. Keine Zusage.",
    ]);
    expect(ack.payload.body).toMatchObject({ disclosure: "substance", attribution: "party" });
    const ackVerbatim = await cli(home("m"), [
      "convey",
      "--from",
      "Süd",
      "--event",
      String(ack.seq),
      "--mode",
      "verbatim",
      "--json",
    ]);
    expect(ackVerbatim.code).toBe(1);
    expect(JSON.parse(ackVerbatim.stdout)).toMatchObject({ error: "disclosure_substance_only" });
    const mInbox = await cli(home("m"), ["show", "Süd"]);
    expect(mInbox.stdout).toContain("acknowledgement");
    expect(mInbox.stdout).toContain("no commitment");

    const nord = await cli(home("Nord"), ["inbox"]);
    expect(nord.stdout).toContain("exact words used: “Nord sucht keine Eskalation.”");

    for (const who of ["m", ...parties]) {
      const v = await cliJson<{ ok: boolean }>(home(who), ["verify"]);
      expect(v.ok).toBe(true);
    }
    const status = await cli(home("m"), ["understanding", "status"]);
    expect(status.stdout).toContain("No understanding proposed");

    const exported = await cliJson<{ caucuses: { events: { stanceText?: string }[] }[] }>(home("Nord"), [
      "export",
    ]);
    expect(exported.caucuses[0]!.events.some((e) => e.stanceText?.includes("no commitment"))).toBe(true);
  }, 240_000); // one process per command (~30), each starting Node and deriving its keystore key

  test("send --expires tells the relay the hour it expires in, unless --no-relay-deletion", async () => {
    const expires = new Date(Date.now() + 90 * 60_000).toISOString();
    const send = (...extra: string[]) =>
      cliJson<{ eventId: string }>(home("Nord"), [
        "send",
        "--text",
        "Bis heute Abend.",
        "--expires",
        expires,
        ...extra,
      ]);
    const told = await send();
    const kept = await send("--no-relay-deletion");
    const db = new Database(join(dir, "relay", sqliteFileName), { readonly: true, fileMustExist: true });
    try {
      const deleteAt = (id: string) =>
        (
          db.prepare("SELECT delete_at FROM events WHERE event_id = ?").get(id) as {
            delete_at: number | null;
          }
        ).delete_at;
      expect(deleteAt(told.eventId)).toBe(Date.parse(deletionHour(expires)));
      expect(deleteAt(kept.eventId)).toBeNull();
    } finally {
      db.close();
    }
  });

  test("failures are typed, with stable codes and exit statuses", async () => {
    const wrong = await cli(home("m"), ["inbox", "--json"], { BACKCHANNEL_PASSPHRASE: "not the passphrase" });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ error: "keystore_passphrase" });

    const none = await cli(join(dir, "nobody"), ["inbox", "--json"]);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({ error: "no_device" });

    const usage = await cli(home("m"), ["convey", "--from", "Nord"]);
    expect(usage.code).toBe(2);

    const unknown = await cli(home("m"), ["frobnicate"]);
    expect(unknown.code).toBe(2);

    const badCode = await cli(join(dir, "x"), ["join", "bc1-garbage", "--json"]);
    expect(badCode.code).toBe(1);
    expect(JSON.parse(badCode.stdout)).toMatchObject({ error: "invite_code_invalid" });

    const partyAsMediator = await cli(home("Nord"), ["channel", "list", "--json"]);
    expect(JSON.parse(partyAsMediator.stdout)).toMatchObject({ error: "wrong_role" });
  });

  test("a new device's passphrase must meet the policy whether it comes from the environment or a file", async () => {
    const refused = (r: { code: number; stdout: string }) => {
      expect(r.code).toBe(1);
      const body = JSON.parse(r.stdout) as { error: string; message: string };
      expect(body.error).toBe("passphrase_weak");
      expect(body.message).toContain("at least 8 characters");
    };
    const weakFile = join(dir, "weak-passphrase");
    writeFileSync(weakFile, "x\n", { mode: 0o600 });

    const viaEnv = await cli(home("weak-m"), ["mediator", "init", "--server", url, "--name", "W", "--json"], {
      BACKCHANNEL_PASSPHRASE: "x",
    });
    refused(viaEnv);
    const viaFile = await cli(home("weak-m"), [
      "--passphrase-file",
      weakFile,
      "mediator",
      "init",
      "--server",
      url,
      "--name",
      "W",
      "--json",
    ]);
    refused(viaFile);
    expect(existsSync(join(home("weak-m"), "device.json"))).toBe(false);

    // join is refused before the invite is redeemed, so the code still works with a good one.
    const { code } = await cliJson<{ code: string }>(home("m"), ["channel", "invite", "Nord"]);
    refused(await cli(home("weak-p"), ["join", code, "--json"], { BACKCHANNEL_PASSPHRASE: "1234567" }));
    refused(await cli(home("weak-p"), ["--passphrase-file", weakFile, "join", code, "--json"]));
    expect(existsSync(join(home("weak-p"), "device.json"))).toBe(false);
    expect((await cliJson(home("weak-p"), ["join", code])).joined).toBe(false);
  }, 60_000);
});
