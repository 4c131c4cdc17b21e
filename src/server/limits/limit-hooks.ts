import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { deviceOf } from "../auth.js";
import type { RelayLimits } from "./relay-limits.js";

/**
 * Requests per client address, on every route (and the push socket's upgrade), before anything
 * else is read. request.ip is the peer, or with Fastify's trustProxy the client a trusted proxy
 * names in X-Forwarded-For: without trustProxy the header is ignored, so a client cannot pick its
 * own bucket.
 */
export function registerRequestLimit(app: FastifyInstance, limits: RelayLimits): void {
  app.addHook("onRequest", async (request: FastifyRequest) => {
    await limits.request(request.ip);
  });
}

/** `authenticate`, then the device's own request budget (the device is known only now). */
export function limitDevices(
  authenticate: preHandlerAsyncHookHandler,
  limits: RelayLimits,
): preHandlerAsyncHookHandler {
  return async function (this: FastifyInstance, request, reply) {
    await authenticate.call(this, request, reply);
    await limits.device(deviceOf(request).deviceId);
  };
}
