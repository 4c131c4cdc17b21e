import { z } from "zod";
import { errorCodes, safeParse, serverFrame, sha256Hex, type ServerFrame } from "../../protocol/index.js";
import type { Disconnect } from "../notifier.js";

/**
 * What relay nodes send each other, as JSON, and the checks on what they receive: NATS is shared
 * infrastructure, so a message is parsed like any outside data and a bad one is dropped.
 */

/** A push from another node is a hint to fetch; ready, pong and error are said only by the node holding the socket. */
const hintTypes: ReadonlySet<ServerFrame["type"]> = new Set(["event", "membership", "sync"]);

const disconnectMessage = z.strictObject({
  tokenHash: sha256Hex.optional(),
  error: z.enum(errorCodes),
  message: z.string().max(200),
});

export function encodeDisconnect({ tokenHash, error, message }: Disconnect): string {
  return JSON.stringify({ ...(tokenHash !== undefined ? { tokenHash } : {}), error, message });
}

type Decoded<T> = { ok: true; value: T } | { ok: false; why: string };

function json(text: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, why: "not JSON" };
  }
}

export function decodePush(text: string): Decoded<ServerFrame> {
  const parsed = json(text);
  if (!parsed.ok) return parsed;
  const frame = safeParse(serverFrame, parsed.value, "push frame");
  if (!frame.ok) return { ok: false, why: frame.error.message };
  if (!hintTypes.has(frame.value.type))
    return { ok: false, why: `a ${frame.value.type} frame is not a push` };
  return frame;
}

export function decodeDisconnect(text: string, deviceId: string): Decoded<Disconnect> {
  const parsed = json(text);
  if (!parsed.ok) return parsed;
  const reason = safeParse(disconnectMessage, parsed.value, "disconnect");
  if (!reason.ok) return { ok: false, why: reason.error.message };
  return { ok: true, value: { deviceId, ...reason.value } };
}
