import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { createApp } from "./app.js";
import type { AppOptions } from "./config.js";
import { drainAndClose } from "./drain.js";
import { RelayLifecycle } from "./lifecycle.js";
import { startMetricsServer, type MetricsServer } from "./metrics/metrics-server.js";
import { RelayMetrics } from "./metrics/relay-metrics.js";
import { openNatsNotifier } from "./nats/nats-notifier.js";
import { openStorage } from "./storage/open-storage.js";

export interface StartServerOptions extends AppOptions {
  /** Default 127.0.0.1: a relay is exposed on purpose, never by default. */
  host?: string;
  /** Default 7700; 0 picks a free port. */
  port?: number;
  /** Where backchannel.sqlite lives; default ./backchannel-data. */
  dataDir?: string;
  /** A postgres:// or postgresql:// URL: store everything in PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  /** Push fan-out between relay nodes through this NATS server (nats://host:port); default in-process. */
  natsUrl?: string;
  /** Serve GET /metrics on a listener of its own at this port (0: a free one); default none. */
  metricsPort?: number;
  /** The metrics listener's interface; default 127.0.0.1. */
  metricsHost?: string;
  /** How long close() lets requests in flight and push sockets finish; default 8 s (drain.ts). */
  drainTimeoutMs?: number;
}

export interface RunningServer {
  /** http://host:port, no trailing slash. */
  url: string;
  port: number;
  dataDir: string;
  /** http://host:port of the metrics listener, when one was asked for. */
  metricsUrl?: string;
  /**
   * Drains (drain.ts: stop accepting, /readyz 503, push sockets told to reconnect, requests in
   * flight finished), then closes storage, which commits what is queued.
   */
  close(): Promise<void>;
}

export const defaultPort = 7700;
export const defaultHost = "127.0.0.1";
export const defaultDataDir = "./backchannel-data";

/**
 * An address a client on this machine can use for a relay listening at `url`: one bound to every
 * interface (0.0.0.0, ::) is reached at the loopback address, as in a container's port mapping.
 */
export function localClientUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === "0.0.0.0") u.hostname = "127.0.0.1";
  else if (u.hostname === "[::]") u.hostname = "[::1]";
  return u.origin;
}

/** Where a listening app is: http://host:port, no trailing slash (an IPv6 host in brackets). */
export function listeningAt(app: FastifyInstance): { url: string; port: number } {
  const address = app.server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return { url: `http://${urlHost}:${address.port}`, port: address.port };
}

/** Opens the storage and listens. close() stops accepting, then closes the database. */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const {
    host = defaultHost,
    port = defaultPort,
    dataDir = defaultDataDir,
    databaseUrl,
    natsUrl,
    metricsPort,
    metricsHost,
    drainTimeoutMs,
    ...appOptions
  } = options;
  // Node's own metrics (CPU, memory, event loop) only for a relay that serves them.
  const metrics = appOptions.metrics ?? new RelayMetrics({ processMetrics: metricsPort !== undefined });
  const lifecycle = appOptions.lifecycle ?? new RelayLifecycle();
  const storage = await openStorage({ dataDir, databaseUrl, onCommit: metrics.commit });
  // The app closes its notifier when it closes.
  const notifier =
    natsUrl === undefined
      ? appOptions.notifier
      : await openNatsNotifier({ url: natsUrl, logger: appOptions.logger }).catch(async (error: unknown) => {
          await storage.close();
          throw error;
        });
  const app = createApp(storage, { ...appOptions, metrics, lifecycle, ...(notifier ? { notifier } : {}) });
  let metricsServer: MetricsServer | undefined;
  try {
    await app.listen({ host, port });
    if (metricsPort !== undefined)
      metricsServer = await startMetricsServer(metrics, { port: metricsPort, host: metricsHost });
  } catch (error) {
    await app.close().catch(() => undefined);
    await storage.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    ...listeningAt(app),
    dataDir,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    close: () =>
      (closing ??= (async () => {
        try {
          await drainAndClose(app, lifecycle, { timeoutMs: drainTimeoutMs });
        } finally {
          await storage.close();
          // Last: a scrape during the drain still sees it happen.
          await metricsServer?.close();
        }
      })()),
  };
}
