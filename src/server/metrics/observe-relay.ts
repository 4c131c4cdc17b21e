import type { FastifyInstance } from "fastify";
import type { RelayLifecycle } from "../lifecycle.js";
import type { Notifier } from "../notifier.js";
import { refusalCodeOf, rememberRefusalCode } from "../refusal-code.js";
import type { RelayMetrics } from "./relay-metrics.js";

/** What a request without a route (a 404, a malformed URL) is counted under. */
export const noRoute = "(no route)";

/**
 * Counts every answered request by its route template (never the raw URL: it holds caucus and
 * invite ids), method and status, its time, and a refusal's stable code; and adds the gauges read
 * at each scrape. Registered on the root instance, so not-found answers and framework refusals
 * count too.
 */
export function observeRelay(
  app: FastifyInstance,
  metrics: RelayMetrics,
  { notifier, lifecycle }: { notifier: Notifier; lifecycle: RelayLifecycle },
): void {
  app.addHook("onSend", rememberRefusalCode);
  app.addHook("onResponse", (request, reply, done) => {
    const code = refusalCodeOf(request);
    metrics.request({
      route: request.routeOptions.url ?? noRoute,
      method: request.method,
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
      ...(code ? { code } : {}),
    });
    done();
  });
  metrics.gauge(
    "backchannel_push_sockets",
    "Open push WebSockets (authenticated or not yet)",
    // Decorated once the websocket plugin has loaded; a scrape before that finds none.
    () => (app.hasDecorator("websocketServer") ? app.websocketServer.clients.size : 0),
  );
  metrics.gauge("backchannel_draining", "1 while this node shuts down", () => (lifecycle.draining ? 1 : 0));
  // Only with NATS: an in-process notifier has no link to lose.
  if (notifier.online !== undefined)
    metrics.gauge("backchannel_nats_link_up", "1 while the link to NATS is up (and caught up)", () =>
      notifier.online ? 1 : 0,
    );
}
