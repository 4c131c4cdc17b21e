import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { extendChain } from "../src/protocol/index.js";
import { Party, SdkError, type Device, type TranscriptEntry, type VerifyReport } from "../src/sdk/index.js";
import { FileStateStore, nodePlatform } from "../src/sdk/node.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";
import { ServerDatabase } from "./helpers/server-database.js";

/**
 * Invariant 5 against an attacker who can write the relay's database: every change below is made
 * directly in SQLite, on a second connection, while the relay keeps serving (WAL allows it, and
 * the relay reads events from the database on every request). The devices must report each one,
 * never show it as normal, and refuse to send into the broken caucus.
 */

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

async function sendSignals(party: Party, n: number, label = "signal"): Promise<TranscriptEntry[]> {
  const out: TranscriptEntry[] = [];
  for (let i = 0; i < n; i++) out.push(await party.send({ text: `${label} ${i + 1}: no new strikes` }));
  return out;
}

function reportFor(reports: VerifyReport[], caucusId: string): VerifyReport {
  const r = reports.find((x) => x.caucusId === caucusId);
  if (!r) throw new Error(`no report for caucus ${caucusId}`);
  return r;
}

async function expectAllVerified(device: Device): Promise<void> {
  const reports = await device.verify();
  expect(reports.length).toBeGreaterThan(0);
  for (const r of reports) expect(r, `caucus ${r.caucusId}`).toMatchObject({ ok: true });
}

async function expectTranscriptBroken(attempt: Promise<unknown>): Promise<void> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SdkError);
  expect((error as SdkError).code).toBe("transcript_broken");
}

describe("transcript tampering in the relay's database is reported by the devices", () => {
  let net: TestNetwork;
  let db: ServerDatabase;
  let caucusA: string;
  let caucusB: string;
  let a: Party;

  beforeEach(async () => {
    net = await startNetwork();
    db = new ServerDatabase(join(net.dataDir, sqliteFileName));
    caucusA = net.caucus.A!;
    caucusB = net.caucus.B!;
    a = net.handlers.A![0]!;
  });

  afterEach(async () => {
    await net.close();
  });

  /** A sends `n` signals and every device verifies them: the history the attacker then rewrites. */
  async function verifiedHistory(n = 3): Promise<TranscriptEntry[]> {
    const sent = await sendSignals(a, n);
    await net.mediator.sync();
    await expectAllVerified(net.mediator);
    await expectAllVerified(a);
    expect(net.mediator.entries(caucusA).map((e) => e.eventId)).toEqual(
      expect.arrayContaining(sent.map((e) => e.eventId)),
    );
    return sent;
  }

  /**
   * A device that found a problem must refuse to build on the broken caucus, and nothing reaches
   * the relay; the channel's other caucus is unaffected.
   */
  async function expectRefusesToSend(...devices: Device[]): Promise<void> {
    const before = db.rows(caucusA).length;
    for (const device of devices) {
      expect(device.caucus(caucusA).problem, device.role).toBeDefined();
      await expectTranscriptBroken(
        device instanceof Party
          ? device.send({ text: "should not be sent" })
          : net.mediator.note(caucusA, "should not be sent"),
      );
    }
    expect(db.rows(caucusA)).toHaveLength(before);
    const other = await net.mediator.note(caucusB, "the other caucus is unaffected");
    expect(other.payload?.body).toMatchObject({ type: "note" });
  }

  describe("alter", () => {
    it("an altered ciphertext of an already verified event is reported by verify()", async () => {
      const sent = await verifiedHistory();
      const target = sent[1]!;
      db.flipCiphertextByte(caucusA, target.seq);

      // Nothing new to fetch: a plain sync cannot see it, but verify() re-reads the whole chain.
      await net.mediator.sync();
      const reports = await net.mediator.verify();
      expect(reportFor(reports, caucusA)).toMatchObject({
        ok: false,
        problem: { kind: "altered", seq: target.seq, eventId: target.eventId },
      });
      expect(reportFor(reports, caucusB).ok).toBe(true);
      expect(net.mediator.caucus(caucusA).problem).toMatchObject({ kind: "altered", seq: target.seq });

      // The sender itself catches it too (its own events are checked against the chain as well).
      expect(reportFor(await a.verify(), caucusA).problem).toMatchObject({
        kind: "altered",
        seq: target.seq,
      });
      await expectRefusesToSend(net.mediator, a);
    });

    it("an altered event the device has not seen, with the server's hash chain recomputed, fails MLS decryption and is caught by the next sender's view", async () => {
      const seen = await verifiedHistory();
      const unseen = await sendSignals(a, 2, "unseen");
      const target = unseen[0]!;
      db.flipCiphertextByte(caucusA, target.seq);
      db.rehashFrom(caucusA, target.seq);

      // From the server's side the chain is whole: the hash chain alone cannot catch this.
      const page = await net.mediator.session.http.call("listEvents", {
        params: { caucusId: caucusA },
        query: { after: seen[2]!.seq },
      });
      expect(
        extendChain(
          net.mediator.caucus(caucusA).head,
          page.events.map((e) => ({ ...e, caucusId: caucusA })),
        ),
      ).toMatchObject({ ok: true });

      await net.mediator.sync();
      // An unreadable message alone could be its sender's doing (issue 7, item 5): it is skipped,
      // attributed to its sender, never shown as content. The next message carries the chain head
      // its sender saw, which the altered event no longer matches: that only the relay can cause.
      const skipped = net.mediator.entries(caucusA).find((e) => e.seq === target.seq);
      expect(skipped).toMatchObject({ senderDeviceId: a.deviceId, skipped: { reason: "unreadable" } });
      expect(skipped?.payload).toBeUndefined();
      expect(net.mediator.caucus(caucusA).problem).toMatchObject({ kind: "fork", seq: target.seq + 1 });
      // Nothing after the altered event is shown as normal.
      const shown = net.mediator.entries(caucusA).map((e) => e.seq);
      expect(Math.max(...shown)).toBe(target.seq);
      expect(reportFor(await net.mediator.verify(), caucusA)).toMatchObject({
        ok: false,
        problem: { kind: "fork", seq: target.seq + 1 },
      });
      // The sender verified the original chain: the relay's head no longer matches it, and the
      // re-read locates the first changed event.
      await a.sync();
      expect(a.caucus(caucusA).problem).toEqual({
        kind: "altered",
        seq: target.seq,
        eventId: target.eventId,
      });
      await expectRefusesToSend(net.mediator, a);
    });

    it("an unseen event replaced by a replay of an earlier ciphertext, chain recomputed, is reported", async () => {
      const seen = await verifiedHistory();
      const unseen = await sendSignals(a, 1, "unseen");
      const target = unseen[0]!;
      db.setCiphertext(caucusA, target.seq, db.row(caucusA, seen[0]!.seq).ciphertext);
      db.rehashFrom(caucusA, target.seq);

      await net.mediator.sync();
      // MLS refuses the replayed generation. A reader cannot tell a relay's replay from a member
      // posting garbage, so it skips the message with a warning naming its sender and never shows
      // the replayed content; the sender, who knows what it sent, reports the alteration.
      const skipped = net.mediator.entries(caucusA).find((e) => e.eventId === target.eventId);
      expect(skipped).toMatchObject({ senderDeviceId: a.deviceId, skipped: { reason: "unreadable" } });
      expect(skipped?.payload).toBeUndefined();
      await a.sync();
      expect(a.caucus(caucusA).problem).toEqual({
        kind: "altered",
        seq: target.seq,
        eventId: target.eventId,
      });
      await expectRefusesToSend(a);
    });
  });

  describe("drop", () => {
    it("a dropped event the device has not seen yet is a gap, and nothing after it is shown", async () => {
      const seen = await verifiedHistory();
      const unseen = await sendSignals(a, 2, "unseen");
      db.deleteEvent(caucusA, unseen[0]!.seq);

      await net.mediator.sync();
      expect(net.mediator.caucus(caucusA).problem).toEqual({
        kind: "gap",
        expectedSeq: unseen[0]!.seq,
        gotSeq: unseen[1]!.seq,
      });
      expect(net.mediator.entries(caucusA).at(-1)?.seq).toBe(seen[2]!.seq);
      expect(reportFor(await net.mediator.verify(), caucusA).problem).toMatchObject({ kind: "gap" });
      await expectRefusesToSend(net.mediator);
      // The sender's own chain is intact; its verify() re-reads the relay's copy and finds the hole.
      expect(reportFor(await a.verify(), caucusA).problem).toMatchObject({
        kind: "gap",
        expectedSeq: unseen[0]!.seq,
      });
      await expectRefusesToSend(a);
    });

    it("a dropped event the device already verified is reported by verify()", async () => {
      const sent = await verifiedHistory();
      db.deleteEvent(caucusA, sent[1]!.seq);

      const reports = await net.mediator.verify();
      expect(reportFor(reports, caucusA)).toMatchObject({
        ok: false,
        problem: { kind: "gap", expectedSeq: sent[1]!.seq, gotSeq: sent[2]!.seq },
      });
      expect(reportFor(reports, caucusB).ok).toBe(true);
      expect(reportFor(await a.verify(), caucusA).problem).toMatchObject({ kind: "gap" });
      await expectRefusesToSend(net.mediator, a);
    });

    it("dropping the newest verified events and moving the head back is caught on the next sync", async () => {
      const sent = await verifiedHistory();
      db.deleteEvent(caucusA, sent[2]!.seq);
      db.setHead(caucusA, sent[1]!.seq);

      await net.mediator.sync();
      expect(net.mediator.caucus(caucusA).problem).toMatchObject({ kind: "fork", seq: sent[2]!.seq });
      expect(reportFor(await net.mediator.verify(), caucusA).ok).toBe(false);
      // The sender notices before it would build on the truncated history.
      await expectTranscriptBroken(a.send({ text: "on top of a truncated history" }));
      expect(a.caucus(caucusA).problem).toMatchObject({ kind: "fork" });
      await expectRefusesToSend(net.mediator, a);
    });
  });

  describe("reorder", () => {
    it.each([
      { rehash: false, how: "stored hashes left as they were" },
      { rehash: true, how: "hash chain recomputed" },
    ])("two verified events swapped ($how) are reported by verify()", async ({ rehash }) => {
      const sent = await verifiedHistory();
      const [first, second] = [sent[0]!, sent[1]!];
      db.swapSeq(caucusA, first.seq, second.seq);
      if (rehash) db.rehashFrom(caucusA, first.seq);

      const report = reportFor(await net.mediator.verify(), caucusA);
      expect(report).toMatchObject({
        ok: false,
        problem: { kind: "altered", seq: first.seq, eventId: second.eventId },
      });
      expect(reportFor(await a.verify(), caucusA).ok).toBe(false);
      await expectRefusesToSend(net.mediator, a);
    });

    it("two unseen events swapped with the chain recomputed are caught by the sender's encrypted head", async () => {
      await verifiedHistory();
      const [first, second] = await sendSignals(a, 2, "unseen");
      db.swapSeq(caucusA, first!.seq, second!.seq);
      db.rehashFrom(caucusA, first!.seq);

      await net.mediator.sync();
      // The second event says (inside MLS) that its sender had seen the first one before it.
      expect(net.mediator.caucus(caucusA).problem).toMatchObject({ kind: "fork", seq: first!.seq });
      const ids = net.mediator.entries(caucusA).map((e) => e.eventId);
      expect(ids).not.toContain(first!.eventId);
      expect(ids).not.toContain(second!.eventId);
      await a.sync();
      expect(a.caucus(caucusA).problem).toEqual({
        kind: "altered",
        seq: first!.seq,
        eventId: second!.eventId,
      });
      await expectRefusesToSend(net.mediator, a);
    });
  });

  describe("fork", () => {
    it("a rewritten history with every later hash recomputed is reported by a device that verified the old head", async () => {
      const sent = await verifiedHistory();
      const oldHead = net.mediator.caucus(caucusA).head;
      db.setCiphertext(caucusA, sent[1]!.seq, randomBytes(db.row(caucusA, sent[1]!.seq).ciphertext.length));
      db.rehashFrom(caucusA, sent[1]!.seq);
      expect(db.rows(caucusA).at(-1)!.hash).not.toBe(oldHead.hash);

      const report = reportFor(await net.mediator.verify(), caucusA);
      expect(report).toMatchObject({
        ok: false,
        problem: { kind: "altered", seq: sent[1]!.seq, eventId: sent[1]!.eventId },
      });
      expect(reportFor(await a.verify(), caucusA)).toMatchObject({
        ok: false,
        problem: { kind: "altered", seq: sent[1]!.seq },
      });
      await expectRefusesToSend(net.mediator, a);
    });

    it("a rewrite of the newest verified event is caught by the next sync, before anything is sent onto it", async () => {
      const sent = await verifiedHistory();
      const last = sent[2]!;
      db.setCiphertext(caucusA, last.seq, randomBytes(db.row(caucusA, last.seq).ciphertext.length));
      db.rehashFrom(caucusA, last.seq);
      const rows = db.rows(caucusA).length;

      // Same length, new head hash: each device compares the relay's head with the one it verified
      // (no verify() needed) and refuses to encrypt anything onto the rewritten chain.
      const altered = { kind: "altered", seq: last.seq, eventId: last.eventId };
      await expectTranscriptBroken(net.mediator.note(caucusA, "written after the rewrite"));
      expect(net.mediator.caucus(caucusA).problem).toEqual(altered);
      await expectTranscriptBroken(a.send({ text: "written after the rewrite" }));
      expect(a.caucus(caucusA).problem).toEqual(altered);
      expect(db.rows(caucusA)).toHaveLength(rows);
      expect(net.mediator.entries(caucusA).at(-1)).toMatchObject({ seq: last.seq, hash: last.hash });
      await expectRefusesToSend(net.mediator, a);
    });

    it("a server showing two members different histories is caught by the members themselves", async () => {
      const a2 = await net.addHandler("A");
      await net.mediator.sync();
      await a.sync();
      await a2.sync();
      const base = net.mediator.caucus(caucusA).head.seq;

      // The real history: A's first handler says X; the mediator verifies it.
      const [x] = await sendSignals(a, 1, "X");
      expect(x!.seq).toBe(base + 1);
      await net.mediator.sync();
      expect(net.mediator.caucus(caucusA).head.seq).toBe(x!.seq);
      const xRow = db.row(caucusA, x!.seq);

      // A's second handler is shown a history without X, and writes Y and Z on top of it.
      db.deleteEvent(caucusA, x!.seq);
      db.setHead(caucusA, base);
      const y = await a2.send({ text: "Y" });
      const z = await a2.send({ text: "Z" });
      expect([y.seq, z.seq]).toEqual([x!.seq, x!.seq + 1]);

      // The mediator is shown its own history (X) continued by Z, with a self-consistent chain.
      db.deleteEvent(caucusA, y.seq);
      db.insertEvent(caucusA, xRow);
      db.rehashFrom(caucusA, x!.seq);
      expect(db.row(caucusA, x!.seq).hash).toBe(xRow.hash);

      await net.mediator.sync();
      // Z carries (encrypted) the head its sender saw: event #x was Y there, X here.
      // (The detail names which check fired: the encrypted `seen` head, not the hash chain.)
      expect(net.mediator.caucus(caucusA).problem).toMatchObject({
        kind: "fork",
        seq: z.seq,
        detail: expect.stringContaining(`saw a different event #${x!.seq}`),
      });
      expect(net.mediator.entries(caucusA).map((e) => e.eventId)).not.toContain(z.eventId);
      await expectTranscriptBroken(net.mediator.note(caucusA, "should not be sent"));
    });
  });

  it("the CLI's verify shows the problem and exits 3, and its send refuses", async () => {
    const home = mkdtempSync(join(tmpdir(), "backchannel-cli-"));
    const passphrase = "correct horse battery staple";
    try {
      const { code } = await net.mediator.invite(caucusA);
      const handler = await Party.join({
        inviteCode: code,
        store: new FileStateStore(join(home, "device.json"), passphrase),
        platform: nodePlatform,
      });
      await admitAfterComparing(net.mediator, handler);
      expect(await handler.waitUntilJoined(10_000)).toBe(true);
      const sent = await sendSignals(a, 2);
      await expectAllVerified(handler);
      db.flipCiphertextByte(caucusA, sent[0]!.seq);

      const env = { BACKCHANNEL_HOME: home, BACKCHANNEL_PASSPHRASE: passphrase };
      const human = await runCli(["verify"], env);
      expect(human.code).toBe(3);
      expect(human.stdout).toContain("✘");
      expect(human.stdout).toContain(`altered: event #${sent[0]!.seq}`);

      const before = db.rows(caucusA).length;
      const send = await runCli(["--json", "send", "--text", "should not be sent"], env);
      expect(send.code).not.toBe(0);
      expect(JSON.parse(send.stdout)).toMatchObject({ error: "transcript_broken" });
      expect(db.rows(caucusA)).toHaveLength(before);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

/**
 * Runs the CLI from source (tsx), so it tests the code in this tree rather than a possibly stale
 * dist/. Asynchronous on purpose: the relay runs in this process and must keep answering.
 */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", ...args],
      { cwd: repoRoot, env: { ...process.env, ...env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
