import type { FastifyBaseLogger } from "fastify";
import type { ServerFrame } from "../../protocol/index.js";
import type { Notifier } from "../notifier.js";

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
    deviceIds.map((deviceId) =>
      notifier.disconnect({ deviceId, error: "device_removed", message: "this device was removed" }),
    ),
  );
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed > 0) log.warn({ failed }, "closing a removed device's sockets failed");
}
