import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { RelayLifecycle } from "./lifecycle.js";
import { RelayMetrics } from "./metrics/relay-metrics.js";
import { openNatsNotifier, type NatsNotifier } from "./nats/nats-notifier.js";
import { startTcpProxy, testPrefix } from "./nats/test-helpers.js";
import { openPostgresStorage } from "./storage/postgres/postgres-storage.js";
import { freshSchema, testDatabaseUrl } from "./storage/postgres/test-helpers.js";
import { openSqliteStorage } from "./storage/sqlite/sqlite-storage.js";
import { until } from "./test-helpers.js";

/**
 * /readyz says whether a node should get traffic: 200 while its storage answers and (with NATS)
 * its link is up, 503 `unavailable` otherwise and from the moment it starts draining. /healthz
 * (liveness) answers as long as the process serves.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

async function get(app: FastifyInstance, url: string): Promise<{ status: number; body: unknown }> {
  const res = await app.inject({ method: "GET", url });
  return { status: res.statusCode, body: res.json() };
}

const unavailable = (message: RegExp) => ({
  status: 503,
  body: { error: "unavailable", message: expect.stringMatching(message) as string },
});

describe("/readyz", () => {
  it("is 200 while SQLite answers and 503 once it is closed; /healthz stays 200", async () => {
    const storage = await openSqliteStorage({ inMemory: true });
    const app = createApp(storage, { logger: false });
    cleanup.push(() => app.close());
    expect(await get(app, "/readyz")).toEqual({ status: 200, body: { ok: true } });
    await storage.close();
    expect(await get(app, "/readyz")).toEqual(unavailable(/storage does not answer/));
    expect(await get(app, "/healthz")).toEqual({ status: 200, body: { ok: true } });
  });

  it("is 503 while PostgreSQL cannot be reached, and 200 again once it can", async () => {
    const { schema, drop } = await freshSchema();
    cleanup.push(drop);
    const url = new URL(testDatabaseUrl);
    const proxy = await startTcpProxy(`tcp://${url.hostname}:${url.port || 5432}`);
    cleanup.push(() => proxy.close());
    url.port = new URL(proxy.url).port;
    const storage = await openPostgresStorage({ databaseUrl: url.toString(), schema });
    cleanup.push(() => storage.close());
    const app = createApp(storage, { logger: false });
    cleanup.push(() => app.close());
    expect(await get(app, "/readyz")).toEqual({ status: 200, body: { ok: true } });

    proxy.cut();
    expect(await get(app, "/readyz")).toEqual(unavailable(/storage does not answer/));
    proxy.restore();
    expect(await get(app, "/readyz")).toEqual({ status: 200, body: { ok: true } });
  });

  it("is 503 while the node's link to NATS is down, and the metric says so", async () => {
    const proxy = await startTcpProxy();
    cleanup.push(() => proxy.close());
    const notifier: NatsNotifier = await openNatsNotifier({
      url: proxy.url,
      prefix: testPrefix(),
      logger: false,
      reconnectWaitMs: 50,
    });
    const storage = await openSqliteStorage({ inMemory: true });
    cleanup.push(() => storage.close());
    const metrics = new RelayMetrics();
    // The app closes its notifier.
    const app = createApp(storage, { logger: false, notifier, metrics });
    cleanup.push(() => app.close());
    const linkUp = async () => (await metrics.scrape()).body.match(/^backchannel_nats_link_up (\d)$/m)?.[1];
    expect(await get(app, "/readyz")).toEqual({ status: 200, body: { ok: true } });
    expect(await linkUp()).toBe("1");

    proxy.cut();
    await until("the notifier sees the link down", () => !notifier.online);
    expect(await get(app, "/readyz")).toEqual(unavailable(/link to NATS is down/));
    expect(await linkUp()).toBe("0");
    proxy.restore();
    await until("the notifier is back", () => notifier.online);
    expect(await get(app, "/readyz")).toEqual({ status: 200, body: { ok: true } });
  });

  it("is 503 from the moment the node starts draining, as is every later request", async () => {
    const storage = await openSqliteStorage({ inMemory: true });
    cleanup.push(() => storage.close());
    const lifecycle = new RelayLifecycle();
    const app = createApp(storage, { logger: false, lifecycle });
    cleanup.push(() => app.close());
    expect(await get(app, "/readyz")).toEqual({ status: 200, body: { ok: true } });
    lifecycle.startDraining();
    expect(await get(app, "/readyz")).toEqual(unavailable(/shutting down/));
    const late = await app.inject({ method: "GET", url: "/v1/me" });
    expect(late.statusCode).toBe(503);
    expect(late.headers.connection).toBe("close");
    expect(late.json()).toEqual({
      error: "unavailable",
      message: expect.stringMatching(/shutting down/) as string,
    });
  });
});
