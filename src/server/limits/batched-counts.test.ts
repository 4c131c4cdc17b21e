import type { Pool } from "pg";
import { RateLimiterRes } from "rate-limiter-flexible";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createPool } from "../storage/postgres/connection.js";
import { openPostgresStorage } from "../storage/postgres/postgres-storage.js";
import { freshSchema, testDatabaseUrl } from "../storage/postgres/test-helpers.js";
import { BatchedCounts, type BatchOptions } from "./batched-counts.js";
import { rateLimitTable } from "./limiter-store.js";

/**
 * Nodes counting one PostgreSQL table in batches (batched-counts.ts): together they admit at most
 * `points + (nodes - 1) × slack` per window, a key over its limit costs no round trip, and a table
 * that cannot be reached leaves each node counting alone.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A schema with the relay's tables (its migrations make rate_limits) and `n` nodes counting in it. */
async function nodes(n: number, options: BatchOptions): Promise<{ pools: Pool[]; counts: BatchedCounts[] }> {
  const { schema, drop } = await freshSchema();
  cleanup.push(drop);
  await (await openPostgresStorage({ databaseUrl: testDatabaseUrl, schema, poolSize: 1 })).close();
  const pools: Pool[] = [];
  const counts: BatchedCounts[] = [];
  for (let i = 0; i < n; i++) {
    const pool = createPool({ databaseUrl: testDatabaseUrl, schema, poolSize: 2 });
    const c = new BatchedCounts(pool, rateLimitTable, options);
    cleanup.push(async () => {
      await c.close();
      await pool.end();
    });
    pools.push(pool);
    counts.push(c);
  }
  return { pools, counts };
}

/** Whether this consume was admitted (false: refused with a RateLimiterRes). */
const admitted = (attempt: Promise<unknown>): Promise<boolean> =>
  attempt.then(
    () => true,
    (refused: unknown) => {
      if (refused instanceof RateLimiterRes) return false;
      throw refused;
    },
  );

describe("rate-limit counts sent to PostgreSQL in batches", () => {
  it("three nodes flooding one key admit at least the limit and at most points + 2 × slack", async () => {
    // 40 points, a twentieth each: slack 2, so at most 44 in all.
    const { pools, counts } = await nodes(3, { flushMs: 5, slackShare: 1 / 20 });
    const limits = counts.map((c) => c.counter("posts", { points: 40, seconds: 60 }));
    let admittedCount = 0;
    // Waves of concurrent requests, each spread over the three nodes, with batches going between them.
    for (let wave = 0; wave < 12; wave++) {
      const results = await Promise.all(
        Array.from({ length: 15 }, (_, i) => admitted(limits[i % 3]!.consume("k"))),
      );
      admittedCount += results.filter(Boolean).length;
    }
    expect(admittedCount).toBeGreaterThanOrEqual(40);
    expect(admittedCount).toBeLessThanOrEqual(44);
    // Every admitted point reached the shared table.
    for (const c of counts) await c.flush();
    const { rows } = await pools[0]!.query<{ points: number }>(
      `SELECT points FROM ${rateLimitTable} WHERE key = 'posts:k'`,
    );
    expect(rows).toEqual([{ points: admittedCount }]);
  });

  it("between batches a node admits without a round trip; a key over its limit is refused without one", async () => {
    const { pools, counts } = await nodes(1, { flushMs: 60_000, slackShare: 1 / 20 });
    const queries = vi.spyOn(pools[0]!, "query");
    // 100 points: slack 5, so the first 5 go without asking; the 6th sends them first.
    const limit = counts[0]!.counter("requests", { points: 100, seconds: 60 });
    for (let i = 0; i < 5; i++) await limit.consume("ip");
    expect(queries).not.toHaveBeenCalled();
    await limit.consume("ip");
    expect(queries).toHaveBeenCalledTimes(1);
    // Spend the rest: one batch per 5 points.
    for (let i = 6; i < 100; i++) await limit.consume("ip");
    expect(queries).toHaveBeenCalledTimes(19);
    queries.mockClear();
    for (let i = 0; i < 50; i++) {
      const refused = await limit.consume("ip").catch((r: unknown) => r);
      expect(refused).toBeInstanceOf(RateLimiterRes);
      expect((refused as RateLimiterRes).msBeforeNext).toBeGreaterThan(0);
      expect((refused as RateLimiterRes).msBeforeNext).toBeLessThanOrEqual(60_000);
    }
    expect(queries).not.toHaveBeenCalled();
    // Another key goes on.
    await limit.consume("another ip");
  });

  it("what another node sent counts once this node's next batch is answered: the bound is tight", async () => {
    const { counts } = await nodes(2, { flushMs: 60_000, slackShare: 1 / 20 });
    const [one, two] = counts.map((c) => c.counter("device", { points: 20, seconds: 60 })) as [
      ReturnType<BatchedCounts["counter"]>,
      ReturnType<BatchedCounts["counter"]>,
    ];
    // Slack 1 at 20 points. Node one admits 19, all sent.
    for (let i = 0; i < 19; i++) await one.consume("d");
    await counts[0]!.flush();
    // Node two has heard nothing: it admits one unsent point (20 in all); its next sends it and
    // hears 20, refused.
    expect(await admitted(two.consume("d"))).toBe(true);
    expect(await admitted(two.consume("d"))).toBe(false);
    // Node one last heard 19: it admits its one point of slack (21 = 20 + (2 - 1) × 1), then hears.
    expect(await admitted(one.consume("d"))).toBe(true);
    expect(await admitted(one.consume("d"))).toBe(false);
    expect(await admitted(two.consume("d"))).toBe(false);
  });

  it("a window that ends admits again", async () => {
    const { counts } = await nodes(1, { flushMs: 5, slackShare: 1 / 20 });
    const limit = counts[0]!.counter("logins", { points: 2, seconds: 1 });
    expect(await Promise.all([0, 1, 2].map(() => admitted(limit.consume("a"))))).toEqual([true, true, false]);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await admitted(limit.consume("a"))).toBe(true);
  });

  it("a table that cannot be reached: the node counts alone, and no request waits on it twice", async () => {
    const pool = createPool({ databaseUrl: "postgres://postgres@127.0.0.1:1/none", poolSize: 1 });
    cleanup.push(() => pool.end());
    const c = new BatchedCounts(pool, rateLimitTable, { flushMs: 60_000, slackShare: 1 / 20 });
    const queries = vi.spyOn(pool, "query");
    const limit = c.counter("requests", { points: 10, seconds: 60 });
    const results: boolean[] = [];
    for (let i = 0; i < 12; i++) results.push(await admitted(limit.consume("ip")));
    expect(results).toEqual([...Array<boolean>(10).fill(true), false, false]);
    // One failed batch, then counting in memory (the timer would try again a minute later).
    expect(queries).toHaveBeenCalledTimes(1);
  });
});
