import type { FastifyServerOptions } from "fastify";
import type { DestinationStream } from "pino";
import type { RelayLifecycle } from "./lifecycle.js";
import type { RelayMetrics } from "./metrics/relay-metrics.js";
import type { LimiterStore } from "./limits/limiter-store.js";
import type { LimitsOptions } from "./limits/limits-config.js";
import type { Notifier } from "./notifier.js";
import { retentionPolicy, type RetentionOptions, type RetentionPolicy } from "./retention/policy.js";
import { defaultRegistrationMode, type RegistrationMode } from "./registration/registration-mode.js";

export interface LoggerOptions {
  /** pino level; default "info". */
  level?: string;
  /** Where log lines go; default stdout. Tests pass a stream to read them. */
  destination?: DestinationStream;
}

export interface AppOptions {
  /** false: no logs at all. */
  logger?: false | LoggerOptions;
  /** Bearer token lifetime; default 15 minutes. */
  tokenTtlMs?: number;
  /** Login nonce lifetime; default 60 seconds. */
  challengeTtlMs?: number;
  /** How long a WebSocket may stay open without authenticating; default 10 seconds. */
  wsAuthTimeoutMs?: number;
  /** Clock for every expiry decision (tests move it instead of sleeping). */
  now?: () => number;
  /** Push fan-out; default in-process. */
  notifier?: Notifier;
  /**
   * A built web console to serve at `/` (e.g. `defaultConsoleDir`); default none. Whoever runs a
   * relay that serves the console could read what is done in it (it ships the code that holds
   * the keys), so the console says so on screen; `backchannel console` serves it locally instead.
   */
  consoleDir?: string;
  /** Browser origins allowed to call the API (CORS); default any (the API takes bearer tokens only). */
  allowOrigins?: readonly string[];
  /** Who may register a mediator device; default "tokens" (registration/registration-mode.ts). */
  registration?: RegistrationMode;
  /** Where the relay counts (metrics/relay-metrics.ts); default a registry of this app's own. */
  metrics?: RelayMetrics;
  /** Draining or not (drain.ts): /readyz and late requests answer 503 while it drains. */
  lifecycle?: RelayLifecycle;
  /** Abuse limits (limits/limits-config.ts); each field left out keeps its default. */
  limits?: LimitsOptions;
  /** Where rate-limit counters live; default this process. The app closes it when it closes. */
  limiterStore?: LimiterStore;
  /**
   * Fastify's trustProxy: which peers may name the client in X-Forwarded-For (true, a hop count,
   * addresses or CIDRs). Default none: the peer's address is the client's, for the limits too.
   */
  trustProxy?: FastifyServerOptions["trustProxy"];
  /** Channel retention and close: grace period, sweeper (retention/policy.ts). */
  retention?: RetentionOptions;
}

export interface AppConfig {
  tokenTtlMs: number;
  challengeTtlMs: number;
  wsAuthTimeoutMs: number;
  now: () => number;
  retention: RetentionPolicy;
  registration: RegistrationMode;
}

export const defaultConfig = {
  tokenTtlMs: 15 * 60_000,
  challengeTtlMs: 60_000,
  wsAuthTimeoutMs: 10_000,
} as const;

export function resolveConfig(options: AppOptions): AppConfig {
  return {
    tokenTtlMs: options.tokenTtlMs ?? defaultConfig.tokenTtlMs,
    challengeTtlMs: options.challengeTtlMs ?? defaultConfig.challengeTtlMs,
    wsAuthTimeoutMs: options.wsAuthTimeoutMs ?? defaultConfig.wsAuthTimeoutMs,
    now: options.now ?? Date.now,
    retention: retentionPolicy(options.retention),
    registration: options.registration ?? defaultRegistrationMode,
  };
}
