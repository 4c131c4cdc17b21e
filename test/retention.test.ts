import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FileStateStore } from "../src/sdk/node.js";
import { ApiError, type Mediator, type Party } from "../src/sdk/index.js";
import { openStorage } from "../src/server/storage/open-storage.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import type { Storage } from "../src/server/storage/storage.js";
import { deriveKeys } from "../src/crypto/node/keystore-kdf.js";
import { CHAIN_START, openRecords, parseHeader } from "../src/crypto/node/keystore-log.js";
import { coreOf } from "./helpers/internals.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * Retention end to end (README "Retention"): the relay's sweeper turns expired messages into
 * tombstones — no ciphertext left in its database — and every device, one that joined after the
 * messages were sent and syncs only after their deletion included, still verifies its transcript;
 * what devices had decrypted is burnt from their keystores; a relay that tampers with a tombstone
 * is caught; a closed channel refuses messages.
 */
const DAY = 86_400_000;
const PASSPHRASE = "correct horse battery staple";
const WORDS = "We are not interested in escalating at this stage";

/**
 * The words anywhere in a device's keystore file: every record of its log decrypted, superseded
 * ones too (an update appends; older versions of a part stay until the file is rewritten).
 */
async function keystoreHolds(path: string, words: string): Promise<boolean> {
  const file = readFileSync(path);
  const nl = file.indexOf(0x0a);
  const line = file.toString("utf8", 0, nl);
  const header = parseHeader(line, JSON.parse(line), path);
  const { key } = await deriveKeys(PASSPHRASE, header.kdf);
  const { batches } = openRecords(key, header, file.subarray(nl + 1), CHAIN_START, path);
  expect(batches.length).toBeGreaterThan(0);
  return batches.some((b) => [...b.set.values()].some((json) => json.includes(words)));
}

/** A second connection to the relay's database, as another relay node's sweeper would be. */
async function sweepAt(net: TestNetwork, ...times: number[]): Promise<number> {
  const storage: Storage = await openStorage({ dataDir: net.dataDir });
  try {
    let tombstoned = 0;
    for (const t of times) tombstoned += (await storage.sweepRetention(t)).tombstoned;
    return tombstoned;
  } finally {
    await storage.close();
  }
}

const relayRows = (net: TestNetwork) => {
  const db = new Database(join(net.dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        "SELECT caucus_id, seq, event_id, kind, ciphertext, tombstone_sha256 FROM events ORDER BY caucus_id, seq",
      )
      .all() as {
      caucus_id: string;
      seq: number;
      event_id: string;
      kind: string;
      ciphertext: Buffer;
      tombstone_sha256: string | null;
    }[];
  } finally {
    db.close();
  }
};

async function everyoneVerifies(devices: readonly (Mediator | Party)[]): Promise<void> {
  for (const d of devices) {
    const reports = await d.verify();
    expect(
      reports.filter((r) => !r.ok),
      `device ${d.deviceId}`,
    ).toEqual([]);
  }
}

describe("retention", () => {
  let net: TestNetwork;
  const homes = mkdtempSync(join(tmpdir(), "backchannel-retention-"));
  const keystore = (who: string) => join(homes, `${who}.json`);
  const made = new Map<string, number>();
  beforeAll(async () => {
    // "B", then "B-2" for B's second handler.
    const name = (who: string) => {
      const n = (made.get(who) ?? 0) + 1;
      made.set(who, n);
      return n === 1 ? who : `${who}-${n}`;
    };
    net = await startNetwork({ store: (who) => new FileStateStore(keystore(name(who)), PASSPHRASE) });
  });
  afterAll(async () => {
    await net?.close();
    rmSync(homes, { recursive: true, force: true });
  });

  test("the relay deletes expired ciphertext, devices burn it, and every device still verifies", async () => {
    const a = net.handlers.A![0]!;
    const b = net.handlers.B![0]!;
    expect(await net.mediator.setRetention(net.channel.channelId, 1)).toEqual({
      channelId: net.channel.channelId,
      retentionDays: 1,
    });
    const signal = await a.send({ text: WORDS, disclosure: "verbatim" });
    await net.mediator.sync();
    await net.mediator.convey({ from: net.caucus.A!, eventId: signal.eventId, mode: "verbatim" });
    await b.sync();
    await a.sync();
    expect(await keystoreHolds(keystore("A"), WORDS)).toBe(true);
    // A handler who joins now reads from its add commit on, and syncs only after the deletion.
    const late = await net.addHandler("B");
    await net.mediator.note(net.caucus.B!, "the late handler has not read this yet");
    const before = relayRows(net).filter((r) => r.kind === "application");

    const now = Date.now();
    expect(await sweepAt(net, now, now + DAY)).toBe(before.length);

    // On the relay: not one application message keeps a byte of ciphertext, in the rows or the file.
    const after = relayRows(net);
    for (const r of after.filter((x) => x.kind === "application")) {
      expect(r.ciphertext.length).toBe(0);
      expect(r.tombstone_sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(after.filter((r) => r.kind === "commit").every((r) => r.ciphertext.length > 0)).toBe(true);
    const checkpoint = new Database(join(net.dataDir, sqliteFileName));
    checkpoint.pragma("wal_checkpoint(TRUNCATE)");
    checkpoint.close();
    const file = readFileSync(join(net.dataDir, sqliteFileName));
    for (const r of before) expect(file.includes(r.ciphertext.subarray(32, 96)), `#${r.seq}`).toBe(false);

    // Every device verifies, the late one through tombstones it never read; all see "expired".
    const devices = [net.mediator, a, b, late];
    for (const d of devices) await d.sync();
    await everyoneVerifies(devices);
    const deleted = new Set(before.map((r) => r.event_id));
    for (const d of devices)
      for (const caucusId of d.caucusIds())
        for (const e of d.entries(caucusId).filter((x) => deleted.has(x.eventId))) {
          expect(e.payload, `${d.deviceId} #${e.seq}`).toBeUndefined();
          expect(e.burnt?.reason).toBe("deleted");
        }
    expect(late.entries(late.caucusId).some((e) => e.burnt && !e.burnt.sentAt)).toBe(true);
    // Burnt from the keystores too: no record of any file's log holds the words.
    for (const who of ["mediator", "A", "B"])
      expect(await keystoreHolds(keystore(who), WORDS), who).toBe(false);

    // The caucus goes on: a new signal lands on a chain whose older links are tombstones.
    await a.send({ text: "still here", disclosure: "verbatim" });
    await net.mediator.sync();
    await everyoneVerifies([net.mediator, a]);
    expect(net.mediator.entries(net.caucus.A!).at(-1)?.payload?.body).toMatchObject({ text: "still here" });
  });

  test("a relay that changes a tombstone's kept hash is caught", async () => {
    const a = net.handlers.A![0]!;
    const db = new Database(join(net.dataDir, sqliteFileName));
    const target = db
      .prepare(
        `SELECT seq, tombstone_sha256 FROM events
         WHERE caucus_id = ? AND tombstone_sha256 IS NOT NULL ORDER BY seq LIMIT 1`,
      )
      .get(net.caucus.A!) as { seq: number; tombstone_sha256: string };
    const setKept = db.prepare("UPDATE events SET tombstone_sha256 = ? WHERE caucus_id = ? AND seq = ?");
    try {
      setKept.run("0".repeat(64), net.caucus.A!, target.seq);
      const [report] = await a.verify();
      expect(report).toMatchObject({ ok: false, problem: { kind: "altered", seq: target.seq } });
    } finally {
      // The other devices go on with the honest relay.
      setKept.run(target.tombstone_sha256, net.caucus.A!, target.seq);
      db.close();
    }
  });

  test("a signal's own expiry burns it on every device that read it", async () => {
    const b = net.handlers.B![0]!;
    let now = Date.now();
    for (const d of [net.mediator, b]) coreOf(d).now = () => now;
    const expiresAt = new Date(now + 60_000).toISOString();
    const sent = await b.send({ text: "this offer lapses within the hour", expiresAt });
    await net.mediator.sync();
    expect(
      net.mediator.entries(net.caucus.B!).find((e) => e.eventId === sent.eventId)?.payload,
    ).toBeDefined();
    now += 60_001;
    for (const d of [net.mediator, b]) {
      await d.sync();
      const entry = d.entries(net.caucus.B!).find((e) => e.eventId === sent.eventId)!;
      expect(entry.payload).toBeUndefined();
      expect(entry.burnt).toMatchObject({ reason: "expired", type: "signal" });
    }
    for (const who of ["mediator", "B"])
      expect(await keystoreHolds(keystore(who), "this offer lapses"), who).toBe(false);
    await everyoneVerifies([net.mediator, b]);
  });

  test("a closed channel refuses messages; its parties see it closed; its messages go after the grace", async () => {
    const b = net.handlers.B![0]!;
    const closed = await net.mediator.closeChannel(net.channel.channelId);
    expect(Date.parse(closed.closed!.deleteAt)).toBeGreaterThan(Date.now() + 6 * DAY);
    await b.sync();
    expect(b.caucus(b.caucusId).closed).toBe(true);
    await expect(b.send({ text: "one more thing" })).rejects.toSatisfy(
      (e) => e instanceof ApiError && e.code === "channel_closed",
    );
    await expect(net.mediator.note(net.caucus.A!, "and another")).rejects.toMatchObject({
      code: "channel_closed",
    });
    await sweepAt(net, Date.parse(closed.closed!.deleteAt));
    expect(relayRows(net).filter((r) => r.kind === "application" && r.ciphertext.length > 0)).toEqual([]);
    await everyoneVerifies([b]);
  });
});
