import type { preHandlerAsyncHookHandler } from "fastify";
import type { AppConfig } from "../config.js";
import type { RelayLimits } from "../limits/relay-limits.js";
import type { Notifier } from "../notifier.js";
import type { Storage } from "../storage/storage.js";

/** What every route module gets from createApp. */
export interface RouteContext {
  storage: Storage;
  notifier: Notifier;
  config: AppConfig;
  limits: RelayLimits;
  /** preHandler that resolves the bearer token to request.device. */
  authenticate: preHandlerAsyncHookHandler;
}
