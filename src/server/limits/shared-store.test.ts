import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../app.js";
import { openPostgresStorage } from "../storage/postgres/postgres-storage.js";
import { freshSchema, testDatabaseUrl } from "../storage/postgres/test-helpers.js";
import type { Storage } from "../storage/storage.js";
import { mediatorWithCaucus, injectCall } from "../test-helpers.js";
import { postgresLimiterStore, redisLimiterStore, type LimiterStore } from "./limiter-store.js";
import { loadTestLimits } from "./load-test-limits.js";

/**
 * Relay nodes that share a store share their limits: two apps on one PostgreSQL schema (as two
 * nodes on one database), or on one Redis, spend one budget. The machine's PostgreSQL and Redis
 * (127.0.0.1:5432, :6379) must run; without them these tests fail, saying so.
 */

const redisUrl = process.env.BACKCHANNEL_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Two nodes on one PostgreSQL schema, each with its own pool of counters there. */
async function postgresNodes(limits: object): Promise<[FastifyInstance, FastifyInstance]> {
  const { schema, drop } = await freshSchema();
  cleanup.push(drop);
  const node = async (): Promise<FastifyInstance> => {
    const storage: Storage = await openPostgresStorage({ databaseUrl: testDatabaseUrl, schema, poolSize: 2 });
    const app = createApp(storage, {
      logger: false,
      registration: "open",
      limits: { ...loadTestLimits, ...limits },
      limiterStore: postgresLimiterStore({ databaseUrl: testDatabaseUrl, schema }),
    });
    cleanup.push(async () => {
      await app.close();
      await storage.close();
    });
    return app;
  };
  // One after the other: the first migrates.
  const first = await node();
  return [first, await node()];
}

/**
 * Answers alternating between two nodes: at least `points` and at most points + 1 admitted (the
 * other node's one point of slack), each node admitting until it refuses and refusing from then on.
 */
function expectTogether(answers: number[], points: number, ok = 200): void {
  const admitted = answers.filter((s) => s === ok).length;
  expect(admitted).toBeGreaterThanOrEqual(points);
  expect(admitted).toBeLessThanOrEqual(points + 1);
  for (const node of [0, 1]) {
    const own = answers.filter((_, i) => i % 2 === node);
    const firstRefusal = own.indexOf(429);
    expect(firstRefusal).toBeGreaterThan(0);
    expect(own.slice(firstRefusal).every((s) => s === 429)).toBe(true);
  }
}

const healthz = (app: FastifyInstance, ip: string) =>
  app.inject({ method: "GET", url: "/healthz", remoteAddress: ip }).then((r) => r.statusCode);

/** An address no other run of these tests used (Redis keeps counters between runs for a window). */
const freshIp = (): string => `10.${[...randomBytes(3)].join(".")}`;

describe("limits shared between relay nodes", () => {
  // PostgreSQL counts in batches (batched-counts.ts): a node may admit one point of slack past what
  // it has heard from the table, so at limits this small two nodes admit up to points + 1 in all.
  it("PostgreSQL: requests through either node spend one budget per address", async () => {
    const [one, two] = await postgresNodes({ requestsPerIp: { points: 4, seconds: 60 } });
    const ip = freshIp();
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) answers.push(await healthz(i % 2 === 0 ? one : two, ip));
    expectTogether(answers, 4);
    expect(await healthz(two, freshIp())).toBe(200);
  });

  it("PostgreSQL: a device's posts through both nodes count together", async () => {
    const [one, two] = await postgresNodes({ postsPerCaucus: { points: 2, seconds: 60 } });
    const m = await mediatorWithCaucus(injectCall(one));
    const postVia = (app: FastifyInstance) =>
      injectCall(app)(
        "POST",
        `/v1/caucuses/${m.caucusId}/events`,
        { eventId: crypto.randomUUID(), kind: "application", epoch: 0, ciphertext: "AAAA" },
        m.token,
      );
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await postVia(i % 2 === 0 ? one : two)).status);
    expectTogether(answers, 2, 201);
    expect(await postVia(one)).toMatchObject({ status: 429, body: { error: "rate_limited" } });
  });

  it("Redis: two nodes on one Redis spend one budget per address", async () => {
    const stores: LimiterStore[] = [];
    const nodes: FastifyInstance[] = [];
    for (let i = 0; i < 2; i++) {
      const { schema, drop } = await freshSchema();
      cleanup.push(drop);
      const storage = await openPostgresStorage({ databaseUrl: testDatabaseUrl, schema, poolSize: 2 });
      const store = await redisLimiterStore(redisUrl);
      stores.push(store);
      const app = createApp(storage, {
        logger: false,
        registration: "open",
        limits: { ...loadTestLimits, requestsPerIp: { points: 3, seconds: 60 } },
        limiterStore: store,
      });
      cleanup.push(async () => {
        await app.close();
        await storage.close();
      });
      nodes.push(app);
    }
    expect(stores[0]!.kind).toBe(`Redis at ${new URL(redisUrl).host}`);
    const [one, two] = nodes as [FastifyInstance, FastifyInstance];
    const ip = freshIp();
    expect([await healthz(one, ip), await healthz(two, ip), await healthz(one, ip)]).toEqual([200, 200, 200]);
    expect(await healthz(two, ip)).toBe(429);
    expect(await healthz(one, freshIp())).toBe(200);
  });

  it("Redis that cannot be reached: one line naming it, never a hang", async () => {
    await expect(redisLimiterStore("redis://:secret@127.0.0.1:1")).rejects.toThrow(
      /^Redis not reachable at 127\.0\.0\.1:1: /,
    );
    await expect(redisLimiterStore("redis://:secret@127.0.0.1:1")).rejects.not.toThrow(/secret/);
  });
});
