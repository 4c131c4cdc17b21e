import { z } from "zod";

/** Opaque identifiers. Devices and events choose their own ids, so every send can be retried. */
export const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "not a UUID");
/**
 * A random UUID (version 4): what a client must use for every id it chooses and the relay
 * stores — an event, a device, an invite, a link. Ids carry no time: a v1, v6 or v7 id would date
 * each of them in the relay's database (invariant 1), so the relay refuses them (invalid_request)
 * and a client cannot leak the time even by mistake. The sender's time lives only inside the
 * encrypted payload (`sentAt`).
 */
export const randomId = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    "not a random UUID (version 4)",
  );
/** A new event's id, as a client posts it: random, and the idempotency key of its send. */
export const newEventId = randomId;
/**
 * An event id as stored and referred to: v4, or v7 from before ids stopped carrying time, so
 * the relay still serves older events and devices still load the transcripts that hold them.
 * Order is the relay's `seq`, never the id.
 */
export const eventId = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "not an event id");
export const deviceId = uuid;
export const channelId = uuid;
export const caucusId = uuid;
export const inviteId = uuid;
/** A one-time link that adds a device to a mediator's staff. */
export const linkId = uuid;
/** An attachment's encrypted blob: a random UUIDv4 its uploader chooses (like an event id). */
export const blobId = randomId;

export const base64url = (maxBytes: number) =>
  z
    .string()
    .max(Math.ceil((maxBytes * 4) / 3) + 4)
    .regex(/^[A-Za-z0-9_-]*$/, "not base64url");

/** Raw Ed25519 public key, base64url (32 bytes → 43 chars). */
export const ed25519PublicKey = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "not an Ed25519 public key");
/** Raw Ed25519 signature, base64url (64 bytes → 86 chars). */
export const ed25519Signature = z.string().regex(/^[A-Za-z0-9_-]{86}$/, "not an Ed25519 signature");
/** SHA-256 digest, hex. */
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "not a SHA-256 hex digest");

export type DeviceId = z.infer<typeof deviceId>;
export type CaucusId = z.infer<typeof caucusId>;
export type ChannelId = z.infer<typeof channelId>;
export type EventId = z.infer<typeof eventId>;
