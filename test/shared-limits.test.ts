import { Client } from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defaultBatchOptions } from "../src/server/limits/batched-counts.js";
import { postgresLimiterStore, rateLimitTable } from "../src/server/limits/limiter-store.js";
import { loadTestLimits } from "../src/server/limits/load-test-limits.js";
import { startServer, type RunningServer } from "../src/server/start-server.js";
import { schemaUrl } from "../src/server/storage/postgres/test-helpers.js";
import { fetchCall, mediatorWithCaucus, postApplication, randomB64 } from "../src/server/test-helpers.js";

/**
 * The rate limits of relays on PostgreSQL (limits/batched-counts.ts), through real relays on real
 * ports: what an append costs in round trips to PostgreSQL (every node-pg Client.query this
 * process makes is counted), and that nodes on one database still refuse together.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function database(): Promise<string> {
  const db = await schemaUrl();
  cleanup.push(db.drop);
  return db.databaseUrl;
}

async function relay(options: Parameters<typeof startServer>[0]): Promise<RunningServer> {
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    logger: false,
    registration: "open",
    ...options,
  });
  cleanup.push(() => server.close());
  return server;
}

/** Every query this process sends to PostgreSQL from now on, as the text it runs (or the prepared statement's name). */
function countQueries(): { texts(): string[] } {
  const spy = vi.spyOn(Client.prototype, "query");
  return {
    texts: () =>
      spy.mock.calls.map(([q, values]) => {
        const config = q as unknown as string | { text?: string; name?: string; values?: unknown };
        const text = typeof config === "string" ? config : `${config.name ?? ""} ${config.text ?? ""}`;
        const vals = typeof config === "object" && config.values !== undefined ? config.values : values;
        return `${text} ${JSON.stringify(vals ?? [])}`;
      }),
  };
}

const isLimitQuery = (text: string): boolean => text.includes(rateLimitTable);

const post = (call: ReturnType<typeof fetchCall>, m: { token: string; caucusId: string }) =>
  call(
    "POST",
    `/v1/caucuses/${m.caucusId}/events`,
    { eventId: crypto.randomUUID(), kind: "application", epoch: 0, ciphertext: randomB64(32) },
    m.token,
  );

describe("rate limits on relays on PostgreSQL", () => {
  it("an append makes no round trip for its three counters; they reach the table in one batch", async () => {
    const databaseUrl = await database();
    // Batches only when a key's slack fills (never at these limits) or the relay stops.
    const server = await relay({
      databaseUrl,
      // An hour's window: points unsent when a window ends are dropped with it (loadTestLimits' is 1 s).
      limits: { ...loadTestLimits, postsPerCaucus: { points: 1_000_000, seconds: 3600 } },
      limiterStore: postgresLimiterStore({ databaseUrl, batch: { flushMs: 60_000 } }),
    });
    const call = fetchCall(server.url);
    const m = await mediatorWithCaucus(call);
    const queries = countQueries();
    const appends = 40;
    for (let i = 0; i < appends; i++) await postApplication(call, m);
    const texts = queries.texts();
    // Per append: the storage's own three round trips (the session, the append's lock-and-read, its
    // write-and-commit; a PREPARE once per connection) and none for the limits, which were three
    // more (address, device, posts), six in all.
    expect(texts.filter(isLimitQuery)).toEqual([]);
    expect(texts.length / appends).toBeLessThanOrEqual(3.1);

    await server.close();
    cleanup.pop();
    const sent = queries.texts().filter(isLimitQuery);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain(`postsPerCaucus:${m.caucusId}:${m.device.deviceId}`);
    const check = new Client({ connectionString: databaseUrl });
    await check.connect();
    try {
      const { rows } = await check.query<{ points: number }>(
        `SELECT points FROM ${rateLimitTable} WHERE key = $1`,
        [`postsPerCaucus:${m.caucusId}:${m.device.deviceId}`],
      );
      expect(rows).toEqual([{ points: appends }]);
    } finally {
      await check.end();
    }
  });

  it("with the relay's own settings, limit round trips are batches, at most one per interval", async () => {
    const server = await relay({ databaseUrl: await database(), limits: loadTestLimits });
    const call = fetchCall(server.url);
    const m = await mediatorWithCaucus(call);
    const queries = countQueries();
    const started = performance.now();
    for (let i = 0; i < 40; i++) await postApplication(call, m);
    const elapsedMs = performance.now() - started;
    const limitQueries = queries.texts().filter(isLimitQuery);
    for (const q of limitQueries) expect(q).toMatch(/^bc-limits-add-/);
    expect(limitQueries.length).toBeLessThanOrEqual(Math.floor(elapsedMs / defaultBatchOptions.flushMs) + 1);
  });

  it("a device over its posts in a caucus is refused from memory, with no round trip", async () => {
    const server = await relay({
      databaseUrl: await database(),
      limits: { ...loadTestLimits, postsPerCaucus: { points: 3, seconds: 60 } },
    });
    const call = fetchCall(server.url);
    const m = await mediatorWithCaucus(call);
    for (let i = 0; i < 3; i++) await postApplication(call, m);
    // Whatever this relay admitted has reached the table.
    await new Promise((r) => setTimeout(r, 3 * defaultBatchOptions.flushMs));
    const queries = countQueries();
    for (let i = 0; i < 7; i++)
      expect(await post(call, m)).toMatchObject({
        status: 429,
        body: { error: "rate_limited", retry_after: expect.any(Number) as number },
      });
    expect(queries.texts().filter((q) => isLimitQuery(q) && q.includes("postsPerCaucus"))).toEqual([]);
  });

  it("two relays on one database admit together at most the limit plus one node's slack", async () => {
    const databaseUrl = await database();
    // 40 points: slack 2 per node (a twentieth), so at most 40 + (2 - 1) × 2 = 42 in all.
    const limits = { ...loadTestLimits, postsPerCaucus: { points: 40, seconds: 60 } };
    const one = await relay({ databaseUrl, limits });
    const two = await relay({ databaseUrl, limits });
    const m = await mediatorWithCaucus(fetchCall(one.url));
    const calls = [fetchCall(one.url), fetchCall(two.url)];
    const answers = await Promise.all(Array.from({ length: 120 }, (_, i) => post(calls[i % 2]!, m)));
    const admitted = answers.filter((a) => a.status === 201).length;
    expect(admitted).toBeGreaterThanOrEqual(40);
    expect(admitted).toBeLessThanOrEqual(42);
    for (const a of answers.filter((r) => r.status !== 201))
      expect(a).toMatchObject({ status: 429, body: { error: "rate_limited" } });
    // Both nodes refused, and both admitted.
    const byNode = [0, 1].map((n) => answers.filter((a, i) => i % 2 === n && a.status === 201).length);
    expect(byNode.every((n) => n > 0 && n < 60)).toBe(true);
  });
});
