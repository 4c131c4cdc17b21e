import { Redis } from "ioredis";
import type { Pool } from "pg";
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRedis,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import { createPool } from "../storage/postgres/connection.js";
import { BatchedCounts, defaultBatchOptions, type BatchOptions } from "./batched-counts.js";
import type { RateLimit } from "./limits-config.js";

/**
 * Where the rate-limit counters live: in this process (one relay node), or in PostgreSQL or Redis,
 * where every node sharing it counts together. rate-limiter-flexible does the counting in each.
 */
export interface LimiterStore {
  /** "memory", "PostgreSQL", "Redis": for the startup line. */
  readonly kind: string;
  /** A counter of its own per name (the names are the LimitsConfig fields), exact. */
  limiter(name: string, limit: RateLimit): RateLimiterAbstract;
  /**
   * A counter for what every request spends (requests per address and device, posts), where a
   * round trip per request would cost as much as the request: the same as `limiter`, except in
   * PostgreSQL, where it counts in batches (batched-counts.ts states the bound).
   */
  counter(name: string, limit: RateLimit): RequestCounter;
  close(): Promise<void>;
}

/** rate-limiter-flexible's consume: resolves, or rejects with a RateLimiterRes saying when to come back. */
export type RequestCounter = Pick<RateLimiterAbstract, "consume">;

/** The counters of one node, lost when it stops: the default with SQLite (one process anyway). */
export function memoryLimiterStore(): LimiterStore {
  const limiter = (name: string, { points, seconds }: RateLimit) =>
    new RateLimiterMemory({ keyPrefix: name, points, duration: seconds });
  return { kind: "memory", limiter, counter: limiter, close: () => Promise.resolve() };
}

/**
 * What every shared store adds to a counter: a key over its limit is refused from memory until
 * its window ends (a flood costs the database nothing more), and while the store cannot be
 * reached each node counts in memory, so a database or Redis hiccup neither lets everything
 * through nor refuses everyone.
 */
const sharedOptions = (name: string, { points, seconds }: RateLimit) => ({
  keyPrefix: name,
  points,
  duration: seconds,
  inMemoryBlockOnConsumed: points,
  insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: seconds }),
});

/** The table PostgreSQL migration 4 makes (unlogged: counters need no crash safety, nor a WAL flush). */
export const rateLimitTable = "rate_limits";

/**
 * Counters in the relay's own PostgreSQL database, in the table its migrations made, through a
 * small pool of their own (so a flood of refused requests cannot take the storage's connections).
 * The per-request counters go in batches, one statement for many requests; the login counters,
 * small and rarely spent, one round trip each, exact.
 */
export function postgresLimiterStore(options: {
  databaseUrl: string;
  schema?: string;
  batch?: Partial<BatchOptions>;
}): LimiterStore {
  const { batch, ...connection } = options;
  const pool: Pool = createPool({ ...connection, poolSize: 4 });
  const batched = new BatchedCounts(pool, rateLimitTable, { ...defaultBatchOptions, ...batch });
  // Expired counters are deleted every few minutes, by one query for the whole table.
  const prune = setInterval(() => {
    pool.query(`DELETE FROM ${rateLimitTable} WHERE expire < $1`, [Date.now()]).catch(() => undefined);
  }, 5 * 60_000);
  prune.unref();
  return {
    kind: "PostgreSQL",
    limiter: (name, limit) =>
      new RateLimiterPostgres({
        ...sharedOptions(name, limit),
        storeClient: pool,
        storeType: "pool",
        tableName: rateLimitTable,
        tableCreated: true,
        clearExpiredByTimeout: false,
      }),
    counter: (name, limit) => batched.counter(name, limit),
    async close() {
      clearInterval(prune);
      await batched.close();
      await pool.end();
    },
  };
}

/**
 * Counters in Redis (BACKCHANNEL_REDIS_URL). Connects at once and fails with one line naming the
 * server when it cannot be reached, as the relay does for PostgreSQL and NATS.
 */
export async function redisLimiterStore(redisUrl: string): Promise<LimiterStore> {
  const where = redisTarget(redisUrl);
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    // A request must not wait for Redis to come back: the in-memory insurance counts meanwhile.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // Connection errors are retried by ioredis; unhandled, they would end the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `Redis not reachable at ${where}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const limiter = (name: string, limit: RateLimit) =>
    new RateLimiterRedis({
      ...sharedOptions(`backchannel:${name}`, limit),
      storeClient: client,
      rejectIfRedisNotReady: true,
    });
  return {
    kind: `Redis at ${where}`,
    limiter,
    // A Redis round trip is cheap (an in-memory increment): every request counts there at once.
    counter: limiter,
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** host:port of a redis:// URL, never its password. */
export function redisTarget(redisUrl: string): string {
  if (!URL.canParse(redisUrl) || !/^rediss?:$/.test(new URL(redisUrl).protocol))
    throw new Error("BACKCHANNEL_REDIS_URL must be a URL such as redis://127.0.0.1:6379");
  const url = new URL(redisUrl);
  return `${url.hostname || "localhost"}:${url.port || "6379"}`;
}

/** Redis when a URL is given, else PostgreSQL when the storage is there, else this process. */
export async function openLimiterStore(options: {
  redisUrl?: string | undefined;
  databaseUrl?: string | undefined;
}): Promise<LimiterStore> {
  if (options.redisUrl) return redisLimiterStore(options.redisUrl);
  if (options.databaseUrl) return postgresLimiterStore({ databaseUrl: options.databaseUrl });
  return memoryLimiterStore();
}
