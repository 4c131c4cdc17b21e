import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { createApp } from "./app.js";
import type { AppOptions } from "./config.js";
import { openLimiterStore } from "./limits/limiter-store.js";
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
  /**
   * Rate-limit counters in this Redis (redis://host:port), shared by every node using it; else in
   * PostgreSQL with databaseUrl, else in this process.
   */
  redisUrl?: string;
}

export interface RunningServer {
  /** http://host:port, no trailing slash. */
  url: string;
  port: number;
  dataDir: string;
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
    redisUrl,
    ...appOptions
  } = options;
  const storage = await openStorage({ dataDir, databaseUrl });
  // The app closes the limiter store when it closes.
  const limiterStore =
    appOptions.limiterStore ??
    (await openLimiterStore({ redisUrl, databaseUrl }).catch(async (error: unknown) => {
      await storage.close();
      throw error;
    }));
  // The app closes its notifier when it closes.
  const notifier =
    natsUrl === undefined
      ? appOptions.notifier
      : await openNatsNotifier({ url: natsUrl, logger: appOptions.logger }).catch(async (error: unknown) => {
          await limiterStore.close();
          await storage.close();
          throw error;
        });
  const app = createApp(storage, { ...appOptions, limiterStore, ...(notifier ? { notifier } : {}) });
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close().catch(() => undefined);
    await storage.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    ...listeningAt(app),
    dataDir,
    close: () =>
      (closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await storage.close();
        }
      })()),
  };
}
