import websocket from "@fastify/websocket";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import { pino } from "pino";
import { limits, pushSocket } from "../protocol/index.js";
import { authenticate } from "./auth.js";
import { resolveConfig, type AppOptions } from "./config.js";
import { registerConsole } from "./console.js";
import { registerApiCors } from "./cors.js";
import { refuseWhileDraining } from "./drain.js";
import { toHttpError } from "./errors.js";
import "./fastify-types.js";
import { RelayLifecycle } from "./lifecycle.js";
import { limitDevices, registerRequestLimit } from "./limits/limit-hooks.js";
import { memoryLimiterStore } from "./limits/limiter-store.js";
import { resolveLimits } from "./limits/limits-config.js";
import { RelayLimits } from "./limits/relay-limits.js";
import { RequestLogController, createLogger } from "./logger.js";
import { meteredStorage } from "./metrics/metered-storage.js";
import { observeRelay } from "./metrics/observe-relay.js";
import { RelayMetrics } from "./metrics/relay-metrics.js";
import { InProcessNotifier } from "./notifier.js";
import { refusalOptions, registerRefusals } from "./refusals.js";
import { blobRoutes } from "./routes/blobs.js";
import { channelRoutes } from "./routes/channels.js";
import type { RouteContext } from "./routes/context.js";
import { eventRoutes } from "./routes/events.js";
import { relayRoutes } from "./routes/relay.js";
import { inviteRoutes } from "./routes/invites.js";
import { shortInviteRoutes } from "./routes/short-invites.js";
import { loginRoutes } from "./routes/login.js";
import { mediatorDeviceRoutes } from "./routes/mediator-devices.js";
import { mediatorRoutes } from "./routes/mediators.js";
import { meRoutes } from "./routes/me.js";
import { readinessRoutes } from "./routes/readiness.js";
import { registerRoutes, type RouteHandlers } from "./routes/register-route.js";
import { registerWsRoute } from "./routes/ws.js";
import { startRetentionSweeper } from "./retention/sweeper.js";
import type { Storage } from "./storage/storage.js";

/**
 * The relay as a Fastify instance, not listening: tests drive it with `app.inject`, and
 * start-server.ts puts it on a port. Closing the app closes the notifier, not the storage
 * (whoever opened the storage closes it).
 */
export function createApp(unmetered: Storage, options: AppOptions = {}): FastifyInstance {
  const config = resolveConfig(options);
  const notifier = options.notifier ?? new InProcessNotifier();
  const metrics = options.metrics ?? new RelayMetrics();
  const lifecycle = options.lifecycle ?? new RelayLifecycle();
  const storage = meteredStorage(unmetered, metrics);
  const relayLimits = new RelayLimits(
    resolveLimits(options.limits),
    options.limiterStore ?? memoryLimiterStore(),
  );
  const logger: FastifyBaseLogger =
    options.logger === false ? pino({ enabled: false }) : createLogger(options.logger);
  const app = Fastify({
    loggerInstance: logger,
    logController: new RequestLogController(),
    bodyLimit: limits.bodyBytes,
    exposeHeadRoutes: false,
    // Slow-drip request bodies may not hold a connection open forever.
    requestTimeout: 60_000,
    // Requests that arrive while the relay drains are refused in our shape (drain.ts), not Fastify's.
    return503OnClosing: false,
    trustProxy: options.trustProxy ?? false,
    // Errors raised before routing (undecodable URL, over-long path segment) get our shape too.
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = toHttpError(error);
      // The reply's generics are unresolved here; it is a plain reply at runtime.
      void (reply as unknown as FastifyReply).code(status).send(body);
    },
    // Refusals Node's HTTP server would make in a shape of its own (no Host, unparsable bytes).
    ...refusalOptions,
  });

  app.decorateRequest("device", null);
  // JSON only: Fastify also parses text/plain by default, which would turn a wrong content-type
  // into a confusing schema error instead of a 415.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toHttpError(error);
    if (status >= 500) request.log.error({ err: error }, "unhandled error");
    if (body.retry_after !== undefined) void reply.header("retry-after", String(body.retry_after));
    return reply.code(status).send(body);
  });
  registerRefusals(app);
  app.addHook("onRequest", refuseWhileDraining(lifecycle));
  observeRelay(app, metrics, { notifier, lifecycle });
  registerRequestLimit(app, relayLimits);

  app.addHook("onClose", () => notifier.close());
  app.addHook("onClose", () => relayLimits.close());
  const sweeper = startRetentionSweeper(storage, config.retention, config.now, logger);
  app.addHook("onClose", () => sweeper.stop());

  const ctx: RouteContext = {
    storage,
    notifier,
    config,
    limits: relayLimits,
    authenticate: limitDevices(authenticate(storage, config), relayLimits),
  };
  // One handler per operation of the route table (protocol/routes.ts): leaving one out does not
  // compile, and the table drives each route's validation.
  const handlers: RouteHandlers = {
    ...relayRoutes(),
    ...readinessRoutes({ storage, notifier, lifecycle }),
    ...mediatorRoutes(ctx),
    ...loginRoutes(ctx),
    ...meRoutes(ctx),
    ...channelRoutes(ctx),
    ...inviteRoutes(ctx),
    ...shortInviteRoutes(ctx),
    ...mediatorDeviceRoutes(ctx),
    ...eventRoutes(ctx),
    ...blobRoutes(ctx),
  };
  // Push frames are tiny hints: compression would only cost memory per socket (ws's default
  // already declines it; said here so that stays a decision).
  void app.register(websocket, { options: { maxPayload: limits.frameBytes, perMessageDeflate: false } });
  void app.register(async (scope) => {
    // An API route written by hand, outside the table, would be served but undocumented and
    // unknown to the sdk: refuse to start. (The console's static files, registered in a sibling
    // scope, are not API; the push socket is not an HTTP operation; CORS answers preflights with
    // an OPTIONS route of its own.)
    scope.addHook("onRoute", (route) => {
      if (route.config?.operationId === undefined && route.url !== pushSocket.path && route.url !== "*")
        throw new Error(`route ${String(route.method)} ${route.url} is not in the route table`);
    });
    await registerApiCors(scope, options.allowOrigins);
    registerRoutes(scope, handlers, ctx.authenticate);
    registerWsRoute(scope, ctx);
  });
  // Off unless the operator asks: a console served by the relay runs the relay's code (gap 1).
  if (options.consoleDir !== undefined) registerConsole(app, { dir: options.consoleDir });
  return app;
}
