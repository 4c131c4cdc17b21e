import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Mediator,
  MemoryStateStore,
  Party,
  SdkError,
  type Device,
  type StateStore,
  type TranscriptEntry,
} from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { loadTestLimits } from "../src/server/limits/load-test-limits.js";
import { startServer, type RunningServer } from "../src/server/start-server.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { cli, ensureCliBuilt } from "./helpers/cli.js";
import { latestVersion } from "../src/server/storage/sqlite/schema-versions.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";
import { ServerDatabase, type EventRow } from "./helpers/server-database.js";
import { freePort } from "./helpers/services.js";

/**
 * An operator backs up a running relay with `backchannel admin backup` (the real CLI, its own
 * process) while A's handler keeps sending, then loses the relay and restores the backup with
 * `admin restore` into a fresh data dir, starting the new relay at the same address. The backup
 * is a consistent snapshot: the restored relay holds exactly a prefix of each caucus's history,
 * everything acknowledged before the backup began and nothing sent after it ended. Restoring
 * rolls the relay back: devices that never saw the lost tail verify everything; devices that did
 * report their caucus broken (the relay has less than they verified), and the caucus with no
 * events after the backup carries on.
 */

/** The CLI with no PostgreSQL URL, whatever the environment running the tests has. */
const admin = (args: string[]) =>
  cli(undefined, ["admin", ...args, "--json"], { BACKCHANNEL_DATABASE_URL: "" });

async function reports(device: Device) {
  return Object.fromEntries((await device.verify()).map((r) => [r.caucusId, r]));
}

async function expectAllVerified(device: Device): Promise<void> {
  const all = await device.verify();
  expect(all.length).toBeGreaterThan(0);
  for (const r of all) expect(r, `${device.role} caucus ${r.caucusId}`).toMatchObject({ ok: true });
}

/** A copy of a device's store as it is now: the device as it was at this moment, to open later. */
async function copyOf(store: StateStore): Promise<MemoryStateStore> {
  const copy = new MemoryStateStore();
  await copy.update(new Map(Object.entries(await store.load())));
  return copy;
}

const link = (e: { seq: number; eventId: string; hash: string }) => ({
  seq: e.seq,
  eventId: e.eventId,
  hash: e.hash,
});
const rowLink = (r: EventRow) => ({ seq: r.seq, eventId: r.event_id, hash: r.hash });

describe("admin backup while devices send, then admin restore on a fresh data dir", () => {
  const root = mkdtempSync(join(tmpdir(), "backchannel-backup-"));
  const firstDataDir = join(root, "first");
  const restoredDataDir = join(root, "restored");
  const backupFile = join(root, "relay-backup.sqlite");
  let port: number;
  let first: RunningServer;
  let restored: RunningServer | undefined;
  let net: TestNetwork;
  let m: Mediator;
  let a: Party;
  let b: Party;
  let caucusA: string;
  let caucusB: string;
  const stores: Record<string, MemoryStateStore> = {};
  /** Each device's store just before the sends during the backup began. */
  const before: Record<string, MemoryStateStore> = {};

  /** A's sends, each with when it was made and acknowledged. */
  const sends: { entry: TranscriptEntry; sentAt: number; ackedAt: number }[] = [];
  let backupStarted = 0;
  let backupEnded = 0;
  /** Caucus A's history as the first relay ended it (the mediator's verified copy). */
  let historyA: ReturnType<typeof link>[] = [];
  let historyB: ReturnType<typeof link>[] = [];
  let restoredA: ReturnType<typeof link>[] = [];

  async function send(text: string): Promise<void> {
    const sentAt = performance.now();
    const entry = await a.send({ text });
    sends.push({ entry, sentAt, ackedAt: performance.now() });
  }

  beforeAll(async () => {
    ensureCliBuilt();
    port = await freePort();
    first = await startServer({
      port,
      dataDir: firstDataDir,
      logger: false,
      limits: loadTestLimits,
      registration: "open",
    });
    net = await startNetwork({ server: first, store: (who) => (stores[who] = new MemoryStateStore()) });
    m = net.mediator;
    a = net.handlers.A![0]!;
    b = net.handlers.B![0]!;
    caucusA = net.caucus.A!;
    caucusB = net.caucus.B!;

    // History every device has verified before any backup: a signal conveyed and acknowledged.
    const signal = await a.send({ text: "We are not interested in escalating at this stage." });
    await m.sync();
    await m.convey({
      from: caucusA,
      eventId: signal.eventId,
      mode: "substance",
      text: "A does not seek escalation.",
    });
    await b.sync();
    const conveyance = b.entries(caucusB).find((e) => e.payload?.body.type === "conveyance")!;
    await b.acknowledge(conveyance.eventId, { text: "Received. No commitment." });
    for (const d of [m, a, b]) await d.sync();
    for (const d of [m, a, b]) await expectAllVerified(d);
    for (const [who, store] of Object.entries(stores)) before[who] = await copyOf(store);
  });

  afterAll(async () => {
    await restored?.close();
    await net?.close(); // closes the first relay (if still open) and removes its data dir
    rmSync(root, { recursive: true, force: true });
  });

  it("the CLI's backup, taken while A's handler keeps sending, is private and says what it copied", async () => {
    let sending = true;
    const loop = (async () => {
      for (let i = 1; sending; i++) await send(`signal ${i}, sent while the backup runs`);
    })();
    await new Promise((r) => setTimeout(r, 100)); // the loop is under way
    backupStarted = performance.now();
    const run = await admin(["backup", backupFile, "--data-dir", firstDataDir]);
    backupEnded = performance.now();
    sending = false;
    await loop;
    for (let i = 1; i <= 2; i++) await send(`signal ${i} after the backup`);

    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toEqual({
      file: backupFile,
      bytes: statSync(backupFile).size,
      pages: expect.any(Number),
      schemaVersion: latestVersion(),
      durationMs: expect.any(Number),
    });
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    // The relay kept acknowledging sends while the backup process ran.
    expect(sends.filter((s) => s.ackedAt > backupStarted && s.ackedAt < backupEnded).length).toBeGreaterThan(
      0,
    );

    await m.sync();
    await b.sync();
    for (const d of [m, a, b]) await expectAllVerified(d);
    historyA = m.entries(caucusA).map(link);
    historyB = m.entries(caucusB).map(link);
  });

  it("restore refuses the running relay's data dir, with or without --force", async () => {
    const plain = await admin(["restore", backupFile, "--data-dir", firstDataDir]);
    expect(plain.code).toBe(1);
    expect(JSON.parse(plain.stdout)).toMatchObject({ error: "database_exists" });
    const forced = await admin(["restore", backupFile, "--data-dir", firstDataDir, "--force"]);
    expect(forced.code).toBe(1);
    expect(JSON.parse(forced.stdout)).toMatchObject({ error: "relay_running" });
  });

  it("restored on a fresh data dir, the relay holds a prefix of each caucus: all acknowledged before the backup, nothing sent after", async () => {
    await first.close(); // the relay is lost
    const run = await admin(["restore", backupFile, "--data-dir", restoredDataDir]);
    expect(run.code, run.stderr).toBe(0);
    const database = join(restoredDataDir, sqliteFileName);
    expect(JSON.parse(run.stdout)).toMatchObject({
      database,
      schemaVersion: latestVersion(),
      replaced: false,
    });
    expect(statSync(database).mode & 0o777).toBe(0o600);
    restored = await startServer({
      port,
      dataDir: restoredDataDir,
      logger: false,
      limits: loadTestLimits,
      registration: "open",
    });

    const rows = new ServerDatabase(database);
    restoredA = rows.rows(caucusA).map(rowLink);
    expect(restoredA).toEqual(historyA.slice(0, restoredA.length));
    expect(rows.rows(caucusB).map(rowLink)).toEqual(historyB);
    const kept = new Set(restoredA.map((e) => e.eventId));
    const acknowledgedBefore = sends.filter((s) => s.ackedAt < backupStarted);
    const sentAfter = sends.filter((s) => s.sentAt > backupEnded);
    expect(acknowledgedBefore.length).toBeGreaterThan(0);
    expect(sentAfter.length).toBeGreaterThanOrEqual(2);
    for (const s of acknowledgedBefore) expect(kept.has(s.entry.eventId)).toBe(true);
    for (const s of sentAfter) expect(kept.has(s.entry.eventId)).toBe(false);
  });

  it("devices opened from their state before the backup sync from the restored relay and verify every caucus", async () => {
    const mBefore = await Mediator.open(before.mediator!, nodePlatform);
    const aBefore = await Party.open(before.A!, nodePlatform);
    const bBefore = await Party.open(before.B!, nodePlatform);
    for (const d of [mBefore, aBefore, bBefore]) await expectAllVerified(d);
    // They fetched what was appended between their last sync and the backup, and no more (a
    // handler's transcript starts where it joined, its anchor).
    for (const d of [mBefore, aBefore])
      expect(d.entries(caucusA).map(link)).toEqual(
        restoredA.filter((e) => e.seq > d.caucus(caucusA).anchor.seq),
      );
  });

  it("devices that verified events after the backup report the missing tail; the untouched caucus carries on", async () => {
    const lastRestored = restoredA.at(-1)!.seq;
    const headA = historyA.at(-1)!.seq;
    for (const device of [m, a]) {
      const r = (await reports(device))[caucusA]!;
      expect(r.ok, device.role).toBe(false);
      expect(r.problem).toEqual({
        kind: "fork",
        seq: headA,
        detail: `the server's head (#${lastRestored}) is behind events this device already verified`,
      });
    }
    // Nothing more goes into the rolled-back caucus from a device that knows it lost events.
    const refused = await a.send({ text: "after the restore" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(SdkError);
    expect((refused as SdkError).code).toBe("transcript_broken");

    // Caucus B had nothing after the backup: its devices go on as before.
    expect((await reports(m))[caucusB]).toMatchObject({ ok: true });
    const later = await b.send({ text: "B, after the restore" });
    await m.sync();
    expect(m.entries(caucusB).map((e) => e.eventId)).toContain(later.eventId);
    await expectAllVerified(b);
    expect((await reports(m))[caucusB]).toMatchObject({ ok: true });
  });
});
