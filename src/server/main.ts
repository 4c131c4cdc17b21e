import { consoleBuilt, defaultConsoleDir } from "./console.js";
import { redisTarget } from "./limits/limiter-store.js";
import { limitsFromEnv, type LimitsOptions } from "./limits/limits-config.js";
import { natsUrlProblem } from "./nats/nats-url.js";
import { registrationFromEnv, registrationLine } from "./registration/registration-env.js";
import type { RegistrationMode } from "./registration/registration-mode.js";
import { defaultDrainTimeoutMs } from "./drain.js";
import {
  defaultDataDir,
  defaultHost,
  defaultPort,
  startServer,
  type RunningServer,
  type StartServerOptions,
} from "./start-server.js";
import { describeStorage } from "./storage/open-storage.js";
import { isPostgresUrl } from "./storage/postgres/postgres-storage.js";

export interface ServeEnv {
  BACKCHANNEL_HOST?: string;
  BACKCHANNEL_PORT?: string;
  BACKCHANNEL_DATA_DIR?: string;
  /** Comma-separated browser origins allowed to call the API; unset: any. */
  BACKCHANNEL_ALLOW_ORIGIN?: string;
  /** postgres:// or postgresql:// URL: PostgreSQL instead of SQLite in the data dir. */
  BACKCHANNEL_DATABASE_URL?: string;
  /** NATS server for push fan-out between relay nodes; unset: one node, in-process. */
  BACKCHANNEL_NATS_URL?: string;
  /** "tokens" (default): mediators register with a token from the operator; "open": anyone. */
  BACKCHANNEL_REGISTRATION?: string;
  /** Port of a listener serving GET /metrics (Prometheus); unset: no metrics served. */
  BACKCHANNEL_METRICS_PORT?: string;
  /** Its interface; default 127.0.0.1. */
  BACKCHANNEL_METRICS_HOST?: string;
  /** Seconds a shutdown waits for requests in flight and push sockets; default 8. */
  BACKCHANNEL_DRAIN_TIMEOUT?: string;
  /** Redis for rate-limit counters shared between nodes; unset: PostgreSQL if used, else in-process. */
  BACKCHANNEL_REDIS_URL?: string;
  /** Fastify's trustProxy: true, a hop count, or comma-separated proxy addresses/CIDRs. */
  BACKCHANNEL_TRUST_PROXY?: string;
  /** And BACKCHANNEL_LIMITS_* (limits/limits-config.ts). */
  [limit: `BACKCHANNEL_LIMITS_${string}`]: string | undefined;
}

export interface ServeOptions {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  allowOrigins?: string[];
  natsUrl?: string;
  registration: RegistrationMode;
  metricsPort?: number;
  metricsHost?: string;
  drainTimeoutMs?: number;
  redisUrl?: string;
  trustProxy?: StartServerOptions["trustProxy"];
  limits: LimitsOptions;
}

/**
 * BACKCHANNEL_DATABASE_URL, checked: a PostgreSQL URL, or undefined for SQLite. Set but empty (as
 * container environments often leave it) counts as unset.
 */
export function databaseUrlFromEnv(env: Pick<ServeEnv, "BACKCHANNEL_DATABASE_URL">): string | undefined {
  const databaseUrl = env.BACKCHANNEL_DATABASE_URL || undefined;
  // The value is not echoed: it may hold a password.
  if (databaseUrl !== undefined && !(URL.canParse(databaseUrl) && isPostgresUrl(databaseUrl))) {
    throw new Error(
      "BACKCHANNEL_DATABASE_URL must be a PostgreSQL URL such as postgres://user:password@host:5432/backchannel " +
        "(leave it unset to use SQLite in BACKCHANNEL_DATA_DIR)",
    );
  }
  return databaseUrl;
}

function portFromEnv(name: string, raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return port;
}

/** BACKCHANNEL_METRICS_PORT, _HOST and BACKCHANNEL_DRAIN_TIMEOUT, checked (observability, shutdown). */
function operationsFromEnv(
  env: ServeEnv,
): Pick<ServeOptions, "metricsPort" | "metricsHost" | "drainTimeoutMs"> {
  const metricsPort = env.BACKCHANNEL_METRICS_PORT || undefined;
  const drain = env.BACKCHANNEL_DRAIN_TIMEOUT || undefined;
  const seconds = Number(drain);
  if (drain !== undefined && !(/^\d+(\.\d+)?$/.test(drain) && seconds <= 3600))
    throw new Error(`BACKCHANNEL_DRAIN_TIMEOUT must be seconds (0-3600), got "${drain}"`);
  return {
    ...(metricsPort ? { metricsPort: portFromEnv("BACKCHANNEL_METRICS_PORT", metricsPort) } : {}),
    ...(env.BACKCHANNEL_METRICS_HOST ? { metricsHost: env.BACKCHANNEL_METRICS_HOST } : {}),
    ...(drain ? { drainTimeoutMs: Math.round(seconds * 1000) } : {}),
  };
}

/** Reads the environment, with the defaults documented in start-server.ts. */
export function serveOptionsFromEnv(env: ServeEnv = process.env): ServeOptions {
  const port = portFromEnv("BACKCHANNEL_PORT", env.BACKCHANNEL_PORT ?? String(defaultPort));
  const allowOrigins = env.BACKCHANNEL_ALLOW_ORIGIN?.split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const o of allowOrigins ?? []) {
    // A browser sends its origin exactly so (scheme://host[:port]); anything else never matches.
    if (o !== "*" && URL.canParse(o) && new URL(o).origin === o) continue;
    throw new Error(`BACKCHANNEL_ALLOW_ORIGIN: "${o}" is not an origin such as http://127.0.0.1:7701`);
  }
  const databaseUrl = databaseUrlFromEnv(env);
  const natsUrl = env.BACKCHANNEL_NATS_URL;
  const natsProblem = natsUrl === undefined ? undefined : natsUrlProblem(natsUrl);
  if (natsProblem) throw new Error(`BACKCHANNEL_NATS_URL: ${natsProblem}`);
  const redisUrl = env.BACKCHANNEL_REDIS_URL || undefined;
  if (redisUrl !== undefined) redisTarget(redisUrl); // throws, naming the variable, if malformed
  const trustProxy = trustProxyFromEnv(env.BACKCHANNEL_TRUST_PROXY);
  return {
    limits: limitsFromEnv(env),
    ...(redisUrl ? { redisUrl } : {}),
    ...(trustProxy !== undefined ? { trustProxy } : {}),
    host: env.BACKCHANNEL_HOST ?? defaultHost,
    port,
    dataDir: env.BACKCHANNEL_DATA_DIR ?? defaultDataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(allowOrigins?.length ? { allowOrigins } : {}),
    ...(natsUrl !== undefined ? { natsUrl } : {}),
    ...operationsFromEnv(env),
    registration: registrationFromEnv(env),
  };
}

/** "true", a hop count, or proxy addresses and CIDRs, comma-separated; unset or "false": none. */
function trustProxyFromEnv(raw: string | undefined): StartServerOptions["trustProxy"] {
  const value = raw?.trim();
  if (!value || value === "false") return undefined;
  if (value === "true") return true;
  // The n proxies nearest the relay are trusted (Fastify's numeric trustProxy, as a function).
  if (/^\d+$/.test(value)) return (_address: string, hop: number) => hop < Number(value);
  return value
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
}

/**
 * `backchannel serve`: start the relay from the environment, print where it is, and close
 * cleanly on SIGINT/SIGTERM. Logs (JSON) go to stdout; the human lines go to stderr so a log
 * collector reading stdout sees JSON only. The relay serves the web console only when the
 * operator asks (`withConsole`): a console served by the relay runs code the relay chose.
 */
export async function serve(
  env: ServeEnv = process.env,
  { withConsole = false }: { withConsole?: boolean } = {},
): Promise<RunningServer> {
  const consoleDir = withConsole ? defaultConsoleDir : undefined;
  const options = serveOptionsFromEnv(env);
  const server = await startServer({ ...options, ...(consoleDir ? { consoleDir } : {}) });
  process.stderr.write(
    `backchannel relay listening on ${server.url} (storage: ${describeStorage(options)})\n` +
      registrationLine(options.registration),
  );
  if (server.metricsUrl) process.stderr.write(`metrics (Prometheus) at ${server.metricsUrl}/metrics\n`);
  if (withConsole)
    process.stderr.write(
      consoleBuilt(defaultConsoleDir)
        ? `web console served by this relay: ${server.url}/ (it tells its users that whoever runs this relay could read what is done in it)\n`
        : "web console not built (run `npm run build`); the API works without it\n",
    );
  const stop = (signal: NodeJS.Signals): void => {
    const closed = server.close();
    // By now the relay has stopped listening (drain.ts does that first, synchronously).
    process.stderr.write(
      `${signal}: shutting down: no new connections; finishing requests in flight and closing push sockets ` +
        `(up to ${(options.drainTimeoutMs ?? defaultDrainTimeoutMs) / 1000} s); a second ${signal} stops at once\n`,
    );
    closed.then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `error while closing: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return server;
}
