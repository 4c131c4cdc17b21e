import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * Invariant 1 ("timing field") and 2 (the relay stores no timestamps on events), read the way an
 * attacker with a copy of the database would: every id the relay holds is a random UUIDv4 (a v1,
 * v6 or v7 id embeds its creation time), and no column of the events table holds a date. The
 * sender's time (`sentAt`) exists only inside the ciphertext. The one exception is a sender's
 * opt-in: a signal with an expiry tells the relay the hour it expires in (`delete_at`), and that
 * hour only; a sender who opts out tells it nothing.
 */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO_DATE = /\b(19|20)\d\d-[01]\d-[0-3]\dT?/;

describe("the relay's database dates nothing", () => {
  let net: TestNetwork;
  let started: number;
  let expiring: { eventId: string; expiresAt: string };
  beforeAll(async () => {
    started = Date.now();
    net = await startNetwork();
    const [a] = net.handlers.A!;
    const [b] = net.handlers.B!;
    const signal = await a!.send({ text: "no escalation", disclosure: "verbatim" });
    await net.mediator.sync();
    await net.mediator.convey({ from: net.caucus.A!, eventId: signal.eventId, mode: "verbatim" });
    await b!.sync();
    const conveyance = b!.entries(b!.caucusId).find((e) => e.payload?.body.type === "conveyance")!;
    await b!.acknowledge(conveyance.eventId);
    await net.mediator.proposeUnderstanding(net.channel.channelId, "no new strikes this week");
    await net.mediator.note(net.caucus.A!, "thank you");
    const expiresAt = new Date(Date.now() + 7_200_000).toISOString();
    await a!.send({ text: "kept from the relay", expiresAt, relayDeletion: false });
    expiring = { eventId: (await a!.send({ text: "until tonight", expiresAt })).eventId, expiresAt };
  });
  afterAll(() => net?.close());

  const tables = () => {
    const db = new Database(join(net.dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
    try {
      const names = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      ).map((t) => t.name);
      return new Map(
        names.map((n) => [n, db.prepare(`SELECT * FROM "${n}"`).all() as Record<string, unknown>[]]),
      );
    } finally {
      db.close();
    }
  };

  test("every id the relay stores is a UUIDv4; event ids included", () => {
    const all = tables();
    const events = all.get("events")!;
    expect(events.length).toBeGreaterThan(6);
    for (const e of events)
      expect(e.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    let ids = 0;
    for (const [table, rows] of all)
      for (const row of rows)
        for (const [column, value] of Object.entries(row)) {
          if (typeof value !== "string") continue;
          for (const m of value.matchAll(UUID)) {
            ids++;
            expect(m[1], `${table}.${column} = ${m[0]}`).toBe("4");
          }
        }
    expect(ids).toBeGreaterThan(events.length);
  });

  test("no column of the events table holds a time, but the hour a sender opted to tell the relay", () => {
    const now = Date.now();
    const events = tables().get("events")!;
    const opted = events.filter((e) => e.delete_at !== null);
    expect(opted.map((e) => e.event_id)).toEqual([expiring.eventId]);
    // The hour the signal expires in, rounded up: no finer, never before the expiry.
    const hour = opted[0]!.delete_at as number;
    expect(hour % 3_600_000).toBe(0);
    expect(hour - Date.parse(expiring.expiresAt)).toBeGreaterThanOrEqual(0);
    expect(hour - Date.parse(expiring.expiresAt)).toBeLessThan(3_600_000);
    for (const e of events)
      for (const [column, value] of Object.entries(e)) {
        if (column === "delete_at") continue;
        const where = `events.${column} = ${String(value)}`;
        if (typeof value === "number") {
          // Neither milliseconds nor seconds since the epoch around the time of the run.
          for (const scale of [1, 1000])
            expect(value * scale >= started - 86_400_000 && value * scale <= now + 86_400_000, where).toBe(
              false,
            );
        }
        if (typeof value === "string") expect(value, where).not.toMatch(ISO_DATE);
      }
  });
});
