import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { appendInput, newDevice, randomB64 } from "../test-helpers.js";
import type { CommitObservation, CommitObserver } from "./commit-observer.js";
import { openPostgresStorage } from "./postgres/postgres-storage.js";
import { freshSchema, testDatabaseUrl } from "./postgres/test-helpers.js";
import { openSqliteStorage } from "./sqlite/sqlite-storage.js";
import type { Storage } from "./storage.js";

/**
 * Both group commits tell an observer about each batch (the relay's commit-time histogram), and
 * an observer can never fail an append.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const backends: { name: string; open(onCommit: CommitObserver): Promise<Storage> }[] = [
  { name: "sqlite", open: (onCommit) => openSqliteStorage({ inMemory: true, onCommit }) },
  {
    name: "postgres",
    async open(onCommit) {
      const { schema, drop } = await freshSchema();
      cleanup.push(drop);
      return openPostgresStorage({ databaseUrl: testDatabaseUrl, schema, poolSize: 2, onCommit });
    },
  },
];

async function caucusOf(storage: Storage): Promise<{ caucusId: string; mediator: string }> {
  const mediator = newDevice().deviceId;
  await storage.createDevice({ deviceId: mediator, role: "mediator", authPublicKey: randomB64(32) });
  const channelId = randomUUID();
  const caucusId = randomUUID();
  await storage.createChannel({ channelId, mediatorDeviceIds: [mediator] });
  await storage.createCaucus({ caucusId, channelId });
  return { caucusId, mediator };
}

describe.each(backends)("group commit observer: $name", (backend) => {
  it("hears of every batch, with its writes and its time, a refused write included", async () => {
    const seen: CommitObservation[] = [];
    const storage = await backend.open((o) => seen.push(o));
    cleanup.push(() => storage.close());
    const { caucusId, mediator } = await caucusOf(storage);
    const results = await Promise.allSettled([
      storage.appendEvent(appendInput(caucusId, mediator)),
      storage.appendEvent(appendInput(caucusId, mediator)),
      // Refused alone (stale_epoch): the batch still commits.
      storage.appendEvent(appendInput(caucusId, mediator, { epoch: 5 })),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: "stale_epoch" });
    expect(seen.reduce((n, o) => n + o.writes, 0)).toBe(3);
    for (const o of seen) {
      expect(o.ok).toBe(true);
      expect(o.seconds).toBeGreaterThan(0);
    }
  });

  it("commits and answers even when the observer throws", async () => {
    let calls = 0;
    const storage = await backend.open(() => {
      calls++;
      throw new Error("a broken metrics exporter");
    });
    cleanup.push(() => storage.close());
    const { caucusId, mediator } = await caucusOf(storage);
    expect(await storage.appendEvent(appendInput(caucusId, mediator))).toMatchObject({ seq: 1 });
    expect(calls).toBe(1);
  });
});
