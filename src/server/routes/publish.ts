import type { FastifyBaseLogger } from "fastify";
import type { ServerFrame } from "../../protocol/index.js";
import { disconnectReasons, type Notifier } from "../notifier.js";

/**
 * Push after the write is durable. A failed push is logged and swallowed: the request already
 * succeeded, and the device catches up from its cursor on its next fetch.
 */
export async function publishAll(
  notifier: Notifier,
  log: FastifyBaseLogger,
  deliveries: readonly { deviceId: string; frame: ServerFrame }[],
): Promise<void> {
  const results = await Promise.allSettled(deliveries.map((d) => notifier.publish(d.deviceId, d.frame)));
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed > 0) log.warn({ failed }, "push notification failed");
}

/** Pushes per turn of the event loop when a push goes out after the answer (publishSoon). */
const PUSH_CHUNK = 256;

/**
 * Pushes after the answer has gone out, a chunk per turn of the event loop: an append to a caucus
 * of a thousand members is acknowledged without waiting for a thousand socket writes, and the
 * other requests the relay is serving meanwhile wait for one chunk at most, not for all of them
 * (issue 8: a 20,000-socket fan-out held the relay for about 400 ms). Pushes are hints: the events
 * are durable before this runs, and a device that misses one catches up on its next fetch.
 */
export function publishSoon(
  notifier: Notifier,
  log: FastifyBaseLogger,
  deliveries: readonly { deviceId: string; frame: ServerFrame }[],
): void {
  if (deliveries.length === 0) return;
  const next = (from: number): void => {
    setImmediate(() => {
      void publishAll(notifier, log, deliveries.slice(from, from + PUSH_CHUNK)).then(() => {
        if (from + PUSH_CHUNK < deliveries.length) next(from + PUSH_CHUNK);
      });
    });
  };
  next(0);
}

/**
 * Closes the push sockets of devices the relay just removed (their sessions are already gone).
 * Like a push, a failure is logged: the device can no longer authenticate anyway.
 */
export async function disconnectRemoved(
  notifier: Notifier,
  log: FastifyBaseLogger,
  deviceIds: readonly string[],
): Promise<void> {
  const results = await Promise.allSettled(
    deviceIds.map((deviceId) => notifier.disconnect({ deviceId, ...disconnectReasons.removed })),
  );
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed > 0) log.warn({ failed }, "closing a removed device's sockets failed");
}
