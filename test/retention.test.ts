import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FileStateStore } from "../src/sdk/node.js";
import { ApiError, type Mediator, type Party } from "../src/sdk/index.js";
import { deletionHour, linkHash, type StoredEvent } from "../src/protocol/index.js";
import type { Rule } from "./helpers/hostile-relay.js";
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

/**
 * A signal's own expiry on the relay (README "Retention"): a sender who gives an expiry tells the
 * relay the hour it falls in (rounded up), bound into the encrypted payload and the chain's hash;
 * the sweeper deletes the ciphertext then, of the signal and of its conveyances, and every device
 * still verifies. Without the opt-in nothing is deleted early; a bad deletion time is refused;
 * a relay that shows another one is caught.
 */
describe("a signal's relay deletion time", () => {
  let net: TestNetwork;
  const HOUR = 3_600_000;
  beforeAll(async () => {
    net = await startNetwork({ hostile: true });
  });
  afterAll(async () => {
    await net?.close();
  });
  const rowsOf = (eventIds: readonly string[]) => {
    const db = new Database(join(net.dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
    try {
      const one = db.prepare("SELECT ciphertext, delete_at FROM events WHERE event_id = ?");
      return eventIds.map((id) => one.get(id) as { ciphertext: Buffer; delete_at: number | null });
    } finally {
      db.close();
    }
  };

  test("the relay deletes an expiring signal and its conveyance after the hour; every device verifies", async () => {
    const a = net.handlers.A![0]!;
    const b = net.handlers.B![0]!;
    let now = Date.now();
    const devices = [net.mediator, a, b];
    for (const d of devices) coreOf(d).now = () => now;
    const expiresAt = new Date(now + 60_000).toISOString();
    const deleteAt = Date.parse(deletionHour(expiresAt));
    const words = "We could pause deliveries for a week";
    const signal = await b.send({ text: words, disclosure: "verbatim", expiresAt });
    const optedOut = await b.send({ text: "kept from the relay", expiresAt, relayDeletion: false });
    const plain = await b.send({ text: "no expiry at all" });
    await net.mediator.sync();
    const conveyed = await net.mediator.convey({
      from: net.caucus.B!,
      eventId: signal.eventId,
      mode: "verbatim",
    });
    const conveyance = conveyed.conveyances[0]!;
    expect(conveyance.payload?.body).toMatchObject({ type: "conveyance", expiresAt });
    await a.sync();

    // The relay holds the hour (no finer) for the signal and its conveyance only.
    const ids = [signal.eventId, conveyance.eventId, optedOut.eventId, plain.eventId];
    const stored = rowsOf(ids);
    expect(stored.map((r) => r.delete_at)).toEqual([deleteAt, deleteAt, null, null]);
    expect(deleteAt % HOUR).toBe(0);
    expect(deleteAt).toBeGreaterThanOrEqual(Date.parse(expiresAt));

    expect(await sweepAt(net, deleteAt - 1)).toBe(0);
    expect(await sweepAt(net, deleteAt)).toBe(2);
    const after = rowsOf(ids);
    expect(after.map((r) => r.ciphertext.length === 0)).toEqual([true, true, false, false]);
    // Not a byte of the deleted ciphertext left in the database file either.
    const checkpoint = new Database(join(net.dataDir, sqliteFileName));
    checkpoint.pragma("wal_checkpoint(TRUNCATE)");
    checkpoint.close();
    const file = readFileSync(join(net.dataDir, sqliteFileName));
    for (const [i, r] of stored.slice(0, 2).entries())
      expect(file.includes(r.ciphertext.subarray(32, 96)), ids[i]).toBe(false);

    // Devices burn it by its expiry, as before; each still verifies through the tombstones.
    now = deleteAt + 1;
    for (const d of devices) await d.sync();
    await everyoneVerifies(devices);
    const entry = (d: Mediator | Party, caucusId: string, eventId: string) =>
      d.entries(caucusId).find((e) => e.eventId === eventId)!;
    expect(entry(b, net.caucus.B!, signal.eventId).burnt?.reason).toBe("expired");
    expect(entry(a, net.caucus.A!, conveyance.eventId).burnt?.reason).toBe("expired");
    expect(entry(net.mediator, net.caucus.B!, plain.eventId).payload?.body).toMatchObject({
      text: "no expiry at all",
    });
  });

  test("a malformed or past deletion time is refused (delete_at_invalid) and changes nothing", async () => {
    const b = net.handlers.B![0]!;
    const caucusId = net.caucus.B!;
    const api = coreOf(b).api();
    const headBefore = (await api.call("listEvents", { params: { caucusId }, query: { after: 0 } })).head;
    const hourNow = Date.now() - (Date.now() % HOUR);
    for (const deleteAt of [
      "next tuesday",
      new Date(hourNow + HOUR + 1000).toISOString(),
      new Date(hourNow).toISOString(),
    ])
      await expect(
        api.call("appendEvent", {
          params: { caucusId },
          body: {
            eventId: crypto.randomUUID(),
            kind: "application",
            epoch: 0,
            ciphertext: Buffer.alloc(600, 1).toString("base64url"),
            deleteAt,
          },
        }),
        deleteAt,
      ).rejects.toSatisfy((e) => e instanceof ApiError && e.code === "delete_at_invalid" && e.status === 400);
    const headAfter = (await api.call("listEvents", { params: { caucusId }, query: { after: 0 } })).head;
    expect(headAfter).toEqual(headBefore);
    await everyoneVerifies([b]);
  });

  test("a signal sent already expired is deleted by the relay at the next hour", async () => {
    const b = net.handlers.B![0]!;
    const now = Date.now();
    coreOf(b).now = () => now;
    const thisHour = now - (now % HOUR);
    // Expired before this hour began: its own hour is past, so the relay gets the next one.
    const sent = await b.send({
      text: "too late already",
      expiresAt: new Date(thisHour - 1000).toISOString(),
    });
    expect(rowsOf([sent.eventId])[0]!.delete_at).toBe(thisHour + HOUR);
  });

  /**
   * The relay moves `eventId`'s deletion time to `moved` and rehashes the chain from there on, as a
   * relay that changed it at the append would serve it: consistent, to a device that never saw it.
   * `before`: the link before the event, for a page that starts with it.
   */
  const forging =
    (caucusId: string, eventId: string, moved: string, before?: { seq: number; hash: string }): Rule =>
    (req) => {
      if (req.method !== "GET" || !req.path.startsWith(`/v1/caucuses/${caucusId}/events`)) return undefined;
      return {
        rewrite: (answer) => {
          const page = answer.body as { events: StoredEvent[]; head: { seq: number; hash: string } };
          const at = page.events.findIndex((e) => e.eventId === eventId);
          const first = page.events[0];
          const prevLink =
            at > 0 ? page.events[at - 1] : first && before?.seq === first.seq - 1 ? before : undefined;
          if (at < 0 || !prevLink) return answer;
          let prev = prevLink.hash;
          const events = page.events.map((e, i) => {
            if (i < at) return e;
            const forged = { ...e, ...(i === at ? { deleteAt: moved } : {}) };
            prev = linkHash(prev, { ...forged, caucusId });
            return { ...forged, hash: prev };
          });
          const last = page.events.at(-1)!;
          const head = page.head.seq === last.seq ? { seq: last.seq, hash: prev } : page.head;
          return { ...answer, body: { ...page, events, head } };
        },
      };
    };
  const hourFromNow = (hours: number) => new Date(Date.now() + hours * HOUR).toISOString();

  test("a relay that shows another deletion time is caught", async () => {
    const b = net.handlers.B![0]!;
    const caucusId = net.caucus.B!;
    await b.send({ text: "a plain one before it" });
    const expiresAt = hourFromNow(3);
    const signal = await b.send({ text: "this offer stands for the afternoon", expiresAt });
    const earlier = new Date(Date.parse(deletionHour(expiresAt)) - 2 * HOUR).toISOString();
    const forge = forging(caucusId, signal.eventId, earlier);
    // The mediator's device reads it for the first time: the payload's signed time disagrees.
    const toMediator = net.relayOf(net.mediator).rule(forge);
    // The sender's device verified it already: the rewritten link is caught.
    const toSender = net.relayOf(b).rule(forge);
    try {
      await net.mediator.sync();
      const seen = net.mediator.entries(caucusId).find((e) => e.eventId === signal.eventId)!;
      expect(seen.payload).toBeUndefined();
      expect(seen.skipped).toMatchObject({ reason: "malformed" });
      expect(seen.skipped?.detail).toContain(`deletion time (${earlier})`);
      const [report] = await b.verify();
      expect(report).toMatchObject({ ok: false, problem: { kind: "altered" } });
    } finally {
      toMediator.remove();
      toSender.remove();
    }
  });

  test("the sender's own device, learning where its message landed, calls a moved deletion time a fork", async () => {
    const a = net.handlers.A![0]!;
    const caucusId = net.caucus.A!;
    await a.sync();
    const before = { ...coreOf(a).caucus(caucusId).record.head };
    const eventId = crypto.randomUUID();
    const expiresAt = hourFromNow(5);
    const relay = net.relayOf(a);
    // The relay stores the message but its answer is lost; the device then syncs to find it.
    let posts = 0;
    relay.rule((req) =>
      req.method === "POST" && req.path.endsWith("/events") && posts++ === 0
        ? { dropAnswer: true }
        : undefined,
    );
    relay.rule(forging(caucusId, eventId, deletionHour(Date.parse(expiresAt) - 3 * HOUR), before));
    try {
      await expect(a.send({ text: "until this evening", expiresAt, eventId })).rejects.toThrow();
      await a.sync();
      expect(coreOf(a).caucus(caucusId).record.problem).toMatchObject({
        kind: "fork",
        detail: expect.stringContaining("deletion time"),
      });
    } finally {
      relay.heal();
    }
  });
});
