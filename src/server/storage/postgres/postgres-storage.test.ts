import { randomUUID } from "node:crypto";
import { Client, DatabaseError } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ciphertextOf, extendChain, genesisHash, linkHash } from "../../../protocol/index.js";
import { appendInput as event, randomB64 } from "../../test-helpers.js";
import type { AppendEventInput, AppendEventResult, Storage } from "../storage.js";
import { migrations } from "./migrations/index.js";
import { openPostgresStorage } from "./postgres-storage.js";
import { freshSchema, testDatabaseUrl } from "./test-helpers.js";

/**
 * What only a shared database has: several relay nodes (here, Storage instances with pools of
 * their own, as separate processes would have) writing the same caucuses at once. The behaviour
 * every backend shares is in ../storage.test.ts.
 */
describe("postgres storage: several relay nodes on one database", () => {
  let schema: string;
  let drop: () => Promise<void>;
  let nodes: Storage[];

  const open = () => openPostgresStorage({ databaseUrl: testDatabaseUrl, schema, poolSize: 2 });
  /** Reads the schema directly, as an operator would. */
  async function query<R>(sql: string): Promise<R[]> {
    const client = new Client({ connectionString: testDatabaseUrl });
    await client.connect();
    try {
      await client.query(`SET search_path = ${schema}`);
      return (await client.query(sql)).rows as R[];
    } finally {
      await client.end();
    }
  }

  beforeEach(async () => {
    ({ schema, drop } = await freshSchema());
    nodes = [];
  });
  // Guarded: when freshSchema() failed (PostgreSQL down), its own error is the one to read.
  afterEach(async () => {
    for (const n of nodes ?? []) await n.close();
    await drop?.();
  });

  async function startNodes(count: number): Promise<Storage[]> {
    const started = await Promise.all(Array.from({ length: count }, open));
    nodes.push(...started);
    return started;
  }

  /** Two caucuses in one channel, each with the same mediator device as a joined member. */
  async function twoCaucuses(s: Storage) {
    const mediator = randomUUID();
    await s.createDevice({ deviceId: mediator, role: "mediator", authPublicKey: randomB64(32) });
    const channelId = randomUUID();
    await s.createChannel({ channelId, mediatorDeviceIds: [mediator] });
    const [c1, c2] = [randomUUID(), randomUUID()];
    for (const caucusId of [c1, c2]) await s.createCaucus({ caucusId, channelId });
    return { mediator, c1, c2 };
  }

  /** The whole transcript, checked as a device checks it: seqs 1..n, every link recomputed. */
  async function verifiedTranscript(s: Storage, caucusId: string) {
    const events = await s.listEvents(caucusId, { afterSeq: 0, limit: 10_000, maxBytes: 1e9 });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const chain = extendChain(
      { seq: 0, hash: genesisHash(caucusId) },
      events.map((e) => ({ ...e, caucusId })),
    );
    expect(chain.ok).toBe(true);
    return events;
  }

  it("appends from three nodes at once are gap-free, chained, and each stored exactly once", async () => {
    const [a, b, c] = await startNodes(3);
    const { mediator, c1, c2 } = await twoCaucuses(a!);
    // Each node sends rounds of concurrent appends, so many transactions from different nodes
    // queue on the same caucus lock; a few go to the second caucus.
    const sent = new Map<string, AppendEventInput>();
    const acked = new Map<string, AppendEventResult>();
    async function node(s: Storage): Promise<void> {
      for (let round = 0; round < 10; round++) {
        const batch = Array.from({ length: 10 }, () => event(c1, mediator));
        batch.push(event(c2, mediator));
        for (const e of batch) sent.set(e.eventId, e);
        const results = await Promise.all(batch.map((e) => s.appendEvent(e)));
        results.forEach((r, i) => acked.set(batch[i]!.eventId, r));
      }
    }
    await Promise.all([a, b, c].map((s) => node(s!)));

    for (const [caucusId, count] of [
      [c1, 300],
      [c2, 30],
    ] as const) {
      const events = await verifiedTranscript(b!, caucusId);
      expect(events).toHaveLength(count);
      // Every acknowledged event is stored once, at the seq and hash its node answered with.
      for (const e of events) {
        expect(sent.get(e.eventId)).toMatchObject({ caucusId, ciphertext: ciphertextOf(e) });
        expect(acked.get(e.eventId)).toEqual({
          seq: e.seq,
          hash: e.hash,
          duplicate: false,
          readers: [mediator],
        });
      }
      expect(new Set(events.map((e) => e.eventId)).size).toBe(count);
      expect(await c!.getCaucus(caucusId)).toMatchObject({ head: { seq: count, hash: events.at(-1)!.hash } });
    }
    expect(acked.size).toBe(330);

    // A retry through another node gets the original answer; nothing is stored twice.
    const first = [...acked.entries()].find(([, r]) => r.seq === 1)!;
    expect(await c!.appendEvent(sent.get(first[0])!)).toEqual({ ...first[1], duplicate: true, readers: [] });

    // And all of it is still there for a node started afresh after every node stopped.
    const before = await a!.listEvents(c1, { afterSeq: 0, limit: 10_000, maxBytes: 1e9 });
    for (const n of nodes.splice(0)) await n.close();
    const [again] = await startNodes(1);
    expect(await again!.listEvents(c1, { afterSeq: 0, limit: 10_000, maxBytes: 1e9 })).toEqual(before);
    expect(await again!.appendEvent(event(c1, mediator))).toMatchObject({ seq: 301 });
  });

  it("concurrent commits for one epoch from different nodes: exactly one wins each time", async () => {
    const started = await startNodes(3);
    const { mediator, c1 } = await twoCaucuses(started[0]!);
    for (let epoch = 0; epoch < 5; epoch++) {
      const outcomes = await Promise.allSettled(
        started.map((s) => s.appendEvent(event(c1, mediator, { kind: "commit", epoch }))),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      const lost = outcomes.flatMap((o) =>
        o.status === "rejected" ? [(o.reason as { code?: string }).code] : [],
      );
      expect(won).toHaveLength(1);
      expect(lost).toEqual(["epoch_conflict", "epoch_conflict"]);
      expect(await started[1]!.getCaucus(c1)).toMatchObject({ epoch: epoch + 1, head: { seq: epoch + 1 } });
    }
    expect((await verifiedTranscript(started[2]!, c1)).map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4]);
  });

  it("a write the database refuses fails alone: the rest of its batch commits, nothing of it stays", async () => {
    const [s] = await startNodes(1);
    const { mediator, c1, c2 } = await twoCaucuses(s!);
    const inviteId = randomUUID();
    const party = randomUUID();
    const keyPackage = randomB64(64);
    await s!.createInvite({ inviteId, caucusId: c1, invitePublicKey: randomB64(32), expiresAt: 2e12 });
    await s!.redeemInvite({ inviteId, deviceId: party, authPublicKey: randomB64(32), keyPackage, now: 1e12 });
    // The database itself fails two writes that every rule allows: one event's insert, and a
    // commit half way, at its welcome, after its event and the new head are written.
    const doomed = event(c1, mediator);
    await query(`
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
      CREATE TRIGGER refuse_event BEFORE INSERT ON events FOR EACH ROW
        WHEN (NEW.event_id = '${doomed.eventId}') EXECUTE FUNCTION refuse();
      CREATE TRIGGER refuse_welcome BEFORE INSERT ON welcomes FOR EACH ROW
        WHEN (NEW.device_id = '${party}') EXECUTE FUNCTION refuse();`);
    const batch = [
      event(c1, mediator),
      doomed,
      event(c1, mediator, { kind: "commit", welcomes: [{ deviceId: party, welcome: randomB64(50) }] }),
      event(c1, mediator, { kind: "commit" }), // still epoch 0: the commit before it left no trace
      event(c1, mediator), // stale_epoch, a refusal in the same batch
      event(c2, mediator),
    ];
    const outcomes = await Promise.allSettled(batch.map((e) => s!.appendEvent(e)));
    expect(
      outcomes.map((o) => {
        if (o.status === "fulfilled") return o.value.seq;
        return o.reason instanceof DatabaseError ? o.reason.message : (o.reason as { code?: string }).code;
      }),
    ).toEqual([1, "refused by the test", "refused by the test", 2, "stale_epoch", 1]);

    const events = await verifiedTranscript(s!, c1);
    expect(events.map((e) => e.eventId)).toEqual([batch[0]!.eventId, batch[3]!.eventId]);
    expect(await s!.getCaucus(c1)).toMatchObject({ epoch: 1, head: { seq: 2, hash: events[1]!.hash } });
    expect(await s!.getMembership(c1, party)).toMatchObject({ joined: false, fromSeq: 0, keyPackage });
    expect(await s!.getWelcome(c1, party)).toBeUndefined();
    expect((await verifiedTranscript(s!, c2)).map((e) => e.eventId)).toEqual([batch[5]!.eventId]);
  });

  it("an append that waited for its caucus's lock reads what the lock's holder committed", async () => {
    const [s] = await startNodes(1);
    const { mediator, c1 } = await twoCaucuses(s!);
    const other = new Client({ connectionString: testDatabaseUrl });
    await other.connect();
    await other.query(`SET search_path = ${schema}`);
    /**
     * Another writer (by hand, as an append on another node does it) holds the caucus's lock and
     * stores `theirs` as the next event; `append` is sent meanwhile and waits for the lock in the
     * query that also reads (alone: a stale read would fail it, not go through a retry).
     */
    async function whileHeld(theirs: AppendEventInput, append: AppendEventInput) {
      const head = (await s!.getCaucus(c1))!.head;
      const hash = linkHash(head.hash, { ...theirs, seq: head.seq + 1 });
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM caucuses WHERE caucus_id = $1 FOR NO KEY UPDATE", [c1]);
      await other.query(
        `INSERT INTO events (caucus_id, seq, event_id, sender_device_id, kind, epoch, ciphertext, hash)
         VALUES ($1, $2, $3, $4, 'application', 0, $5, $6)`,
        [c1, head.seq + 1, theirs.eventId, mediator, Buffer.from(theirs.ciphertext, "base64url"), hash],
      );
      await other.query("UPDATE caucuses SET head_seq = $2, head_hash = $3 WHERE caucus_id = $1", [
        c1,
        head.seq + 1,
        hash,
      ]);
      const waiting = s!.appendEvent(append);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await other.query("COMMIT");
      return { theirs: { seq: head.seq + 1, hash }, mine: await waiting };
    }
    try {
      // The head the holder moved.
      const first = await whileHeld(event(c1, mediator), event(c1, mediator));
      expect(first.mine).toMatchObject({ seq: 2, duplicate: false });
      // The event the holder stored: a retry of it is a duplicate.
      const theirs = event(c1, mediator);
      const second = await whileHeld(theirs, { ...theirs });
      expect(second.mine).toEqual({ ...second.theirs, duplicate: true, readers: [] });
      expect((await verifiedTranscript(s!, c1)).map((e) => e.seq)).toEqual([1, 2, 3]);
    } finally {
      await other.end();
    }
  });

  it("one invite redeemed from two nodes at once is redeemed once", async () => {
    const [a, b] = await startNodes(2);
    const { c1 } = await twoCaucuses(a!);
    const inviteId = randomUUID();
    await a!.createInvite({ inviteId, caucusId: c1, invitePublicKey: randomB64(32), expiresAt: 2e12 });
    const devices = [randomUUID(), randomUUID()];
    const outcomes = await Promise.allSettled(
      [a!, b!].map((s, i) =>
        s.redeemInvite({
          inviteId,
          deviceId: devices[i]!,
          authPublicKey: randomB64(32),
          keyPackage: randomB64(64),
          now: 1e12,
        }),
      ),
    );
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({ reason: { code: "invite_used" } });
    expect((await b!.listMembers(c1)).filter((m) => m.role === "party")).toHaveLength(1);
  });

  it("three nodes starting on a fresh schema all open it, and it is migrated once", async () => {
    const started = await startNodes(3);
    expect(await query("SELECT version, name FROM schema_migrations ORDER BY version")).toEqual(
      migrations.map((m) => ({ version: m.version, name: m.name })),
    );
    // Each of them works on the one schema.
    const { mediator, c1 } = await twoCaucuses(started[0]!);
    for (const s of started) await s.appendEvent(event(c1, mediator));
    expect((await verifiedTranscript(started[1]!, c1)).length).toBe(3);
  });

  it("refuses a schema written by a newer relay", async () => {
    await (await open()).close();
    await query("INSERT INTO schema_migrations (version, name) VALUES (999, 'from-the-future')");
    await expect(open()).rejects.toThrow(/999/);
  });

  it("refuses a connection whose commits are not durable (synchronous_commit = off)", async () => {
    const url = new URL(testDatabaseUrl);
    url.searchParams.set("options", "-c synchronous_commit=off");
    await expect(openPostgresStorage({ databaseUrl: url.toString(), schema })).rejects.toThrow(
      /synchronous_commit = off/,
    );
  });

  it("an unreachable server: the error names host and port, never the password", async () => {
    const error = await openPostgresStorage({
      databaseUrl: "postgresql://relay:s3cret-pw@127.0.0.1:1/backchannel",
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^PostgreSQL not reachable at 127\.0\.0\.1:1 \(database "backchannel", user "relay"\): .*ECONNREFUSED/,
    );
    expect((error as Error).message).not.toContain("s3cret-pw");
  });
});
