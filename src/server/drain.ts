import type { FastifyInstance, onRequestHookHandler } from "fastify";
import type { RelayLifecycle } from "./lifecycle.js";
import { shuttingDown } from "./readiness.js";

/**
 * WebSocket close code 1012, "Service Restart" (IANA's registry of close codes): the server is
 * going away and the client should connect again. Behind a proxy the new connection lands on
 * another node, and the device fetches from its own cursor, so it misses nothing. The sdk's
 * `watch` reconnects after any close.
 */
export const closeServiceRestart = 1012;
export const serviceRestartReason = "relay restarting: reconnect";

/** The default bound on a drain: inside `docker stop`'s 10 s, with time left to close storage. */
export const defaultDrainTimeoutMs = 8_000;

/**
 * While draining, a request that still arrives on a connection opened before (keep-alive, a
 * pipelined request) gets 503 `unavailable` in the API's shape, and its connection closes.
 * Fastify's own answer at that point would be a 503 in a shape of its own.
 */
export function refuseWhileDraining(lifecycle: RelayLifecycle): onRequestHookHandler {
  return (_request, reply, done) => {
    if (!lifecycle.draining) return done();
    void reply.header("connection", "close");
    done(shuttingDown());
  };
}

/**
 * Shuts the relay down in order:
 * 1. marks it draining (/readyz 503; late requests 503) and stops listening: new connections are
 *    refused, idle keep-alive connections closed;
 * 2. closes every push socket with 1012 and a reconnect hint;
 * 3. lets requests in flight finish (their appends are committed and answered), for up to
 *    `timeoutMs`; then cuts the connections still open (a client still sending a body, a socket
 *    whose client never answers the close).
 * Resolves once the app is closed (its notifier too); the caller then closes storage, which
 * commits what is still queued. A drain that ran out of time says so in the log.
 */
export async function drainAndClose(
  app: FastifyInstance,
  lifecycle: RelayLifecycle,
  { timeoutMs = defaultDrainTimeoutMs }: { timeoutMs?: number } = {},
): Promise<void> {
  lifecycle.startDraining();
  // Node closes the listening socket at once and closes idle keep-alive connections; Fastify's own
  // close below waits, through this same server, for the rest.
  if (app.server.listening) app.server.close();
  const pushSockets = app.websocketServer?.clients ?? new Set();
  for (const socket of pushSockets) socket.close(closeServiceRestart, serviceRestartReason);
  const deadline = setTimeout(() => {
    app.log.warn(
      { timeoutMs, pushSockets: pushSockets.size },
      "drain timed out: closing the connections still open",
    );
    app.server.closeAllConnections();
    for (const socket of pushSockets) socket.terminate();
  }, timeoutMs);
  try {
    await app.close();
  } finally {
    clearTimeout(deadline);
  }
}
