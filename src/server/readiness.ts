import { ServerError } from "./errors.js";
import type { RelayLifecycle } from "./lifecycle.js";
import type { Notifier } from "./notifier.js";
import type { Storage } from "./storage/storage.js";

export interface ReadinessDeps {
  storage: Pick<Storage, "getDevice">;
  notifier: Notifier;
  lifecycle: RelayLifecycle;
  /** How long storage may take to answer; default 2 s (a probe waits less than its caller). */
  storageTimeoutMs?: number;
}

/**
 * A device id no device can have (ids are UUIDv4; this is the nil UUID): reading it is one
 * primary-key lookup that finds nothing, on either backend, and proves the database answers.
 */
const probeDeviceId = "00000000-0000-0000-0000-000000000000";

/**
 * Why this node should get no traffic now, or undefined when it should: it is shutting down, its
 * storage does not answer, or (with NATS) its link to the other nodes is down, so pushes from them
 * would be missed. The messages name the cause and nothing internal (no host, no driver error).
 */
export async function notReady(deps: ReadinessDeps): Promise<ServerError | undefined> {
  if (deps.lifecycle.draining) return shuttingDown();
  if (deps.notifier.online === false)
    return new ServerError("unavailable", "this relay node's link to NATS is down");
  const timeoutMs = deps.storageTimeoutMs ?? 2_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, timeoutMs, "timeout")));
  try {
    const answer = await Promise.race([deps.storage.getDevice(probeDeviceId), timedOut]);
    if (answer === "timeout")
      return new ServerError("unavailable", `the relay's storage did not answer within ${timeoutMs} ms`);
  } catch {
    return new ServerError("unavailable", "the relay's storage does not answer");
  } finally {
    clearTimeout(timer);
  }
  return deps.lifecycle.draining ? shuttingDown() : undefined;
}

export const shuttingDown = (): ServerError =>
  new ServerError("unavailable", "this relay node is shutting down: try again (another node may answer)");
