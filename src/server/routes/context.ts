import type { preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import { caucusId, channelId, deviceId, inviteId, linkId } from "../../protocol/index.js";
import type { AppConfig } from "../config.js";
import type { Notifier } from "../notifier.js";
import type { Storage } from "../storage/storage.js";

/** What every route module gets from createApp. */
export interface RouteContext {
  storage: Storage;
  notifier: Notifier;
  config: AppConfig;
  /** preHandler that resolves the bearer token to request.device. */
  authenticate: preHandlerAsyncHookHandler;
}

export const caucusParams = z.strictObject({ caucusId });
export const channelParams = z.strictObject({ channelId });
export const inviteParams = z.strictObject({ inviteId });
export const linkParams = z.strictObject({ linkId });
export const deviceParams = z.strictObject({ deviceId });
