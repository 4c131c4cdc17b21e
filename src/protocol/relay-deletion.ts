import { z } from "zod";

/**
 * A signal's relay deletion time (`deleteAt`): the hour after which the relay deletes the
 * ciphertext of an application message whose sender opted in (README "Retention"). It travels in
 * the event's envelope, where the relay reads it, and in the encrypted payload, where the sender
 * signs it (MLS authenticates the payload): devices compare the two, and the chain's hash covers
 * the envelope's (protocol/transcript.ts), so a relay cannot move it without being caught.
 *
 * Coarse on purpose: an exact hour (UTC), written as `Date.prototype.toISOString` writes it, so
 * the relay learns no more than the hour a message stops being needed, and one spelling per hour
 * keeps the hash chain's preimage unambiguous. Rounded up from the expiry, so nothing is deleted
 * before it expired.
 */
export const hourMs = 60 * 60_000;

/** The latest deletion time the relay accepts: ten years on, as channel retention's bound. */
export const maxDeleteAheadMs = 3650 * 86_400_000;

/** The deletion time for an expiry (ISO 8601 or epoch ms): the first whole hour not before it. */
export function deletionHour(expiresAt: string | number): string {
  const ms = typeof expiresAt === "number" ? expiresAt : Date.parse(expiresAt);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(expiresAt)}`);
  return new Date(Math.ceil(ms / hourMs) * hourMs).toISOString();
}

/** Epoch ms of a well-formed deletion time, or undefined for anything else (not an exact hour). */
export function parseDeleteAt(value: string): number | undefined {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || ms % hourMs !== 0 || new Date(ms).toISOString() !== value) return undefined;
  return ms;
}

/** A well-formed deletion time, as devices read it back from the relay and from payloads. */
export const deleteAt = z
  .string()
  .max(24)
  .refine(
    (s) => parseDeleteAt(s) !== undefined,
    "a deletion time is an exact hour, as 2026-11-30T18:00:00.000Z",
  );
