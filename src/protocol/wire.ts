import { z } from "zod";
import {
  base64url,
  blobId,
  caucusId,
  channelId,
  deviceId,
  ed25519PublicKey,
  ed25519Signature,
  eventId,
  inviteId,
  linkId,
  newEventId,
  randomId,
  sha256Hex,
} from "./ids.js";
import { limits } from "./limits.js";
import { deleteAt } from "./relay-deletion.js";

/**
 * Every HTTP body and WebSocket frame, request and response. The server validates requests with
 * these; the sdk validates responses with them. Objects are strict: unknown fields are rejected.
 */

export const role = z.enum(["mediator", "party"]);
export type Role = z.infer<typeof role>;

// ── devices and login ──────────────────────────────────────────────────────────────────────────
export const registerMediatorRequest = z.strictObject({
  deviceId: randomId,
  authPublicKey: ed25519PublicKey,
  /**
   * From the relay's operator (`backchannel admin token create`). A relay with closed
   * registration, the default, requires one; an open relay ignores it. Any string is looked up
   * (no format check): a malformed token is refused exactly as an unknown one.
   */
  registrationToken: z.string().min(1).max(200).optional(),
});
export const registerMediatorResponse = z.strictObject({ deviceId, role });

export const challengeRequest = z.strictObject({ deviceId });
export const challengeResponse = z.strictObject({ nonce: base64url(32), expiresAt: z.string() });

export const sessionRequest = z.strictObject({ deviceId, nonce: base64url(32), signature: ed25519Signature });
export const sessionResponse = z.strictObject({ token: z.string().min(20).max(200), expiresAt: z.string() });

/** `all`: revoke every token of this device, not only the one in use (log out everywhere). */
export const logoutRequest = z.strictObject({ all: z.boolean().optional() });
/** How many tokens were revoked; their push sockets are closed. */
export const logoutResponse = z.strictObject({ revoked: z.number().int().nonnegative() });

/** The exact bytes a device signs to log in: domain-separated so the key can sign nothing else of use. */
export const loginSigningString = (deviceIdValue: string, nonce: string): string =>
  `backchannel-login-v1\ndevice:${deviceIdValue}\nnonce:${nonce}`;

/**
 * What a device signs to ask the relay for the mediator's signed word on its removals: its own
 * domain, so this signature can log nobody in.
 */
export const removalsSigningString = (deviceIdValue: string, nonce: string): string =>
  `backchannel-removals-v1\ndevice:${deviceIdValue}\nnonce:${nonce}`;

/** The mediator's signature (identity key) saying a device was removed from a caucus. */
export const removalProof = z.strictObject({ deviceId, signature: ed25519Signature });
export const removalsResponse = z.strictObject({
  removals: z.array(z.strictObject({ caucusId, signature: ed25519Signature })).max(10_000),
});

export const membership = z.strictObject({
  caucusId,
  /** Mediators see which channel a caucus belongs to; a party device never learns it. */
  channelId: channelId.optional(),
  /** First sequence number this device may read (its join point). */
  fromSeq: z.number().int().nonnegative(),
  joined: z.boolean(),
});
export const meResponse = z.strictObject({ deviceId, role, memberships: z.array(membership) });

// ── channels, caucuses, invites (mediator) ────────────────────────────────────────────────────
/** How long the relay keeps a channel's application messages (days), at most ten years. */
export const retentionDays = z.number().int().min(1).max(3650);
export const createChannelRequest = z.strictObject({ retentionDays: retentionDays.optional() });
export const createChannelResponse = z.strictObject({ channelId });
export const setRetentionRequest = z.strictObject({ retentionDays: retentionDays.nullable() });
export const closeChannelRequest = z.strictObject({});
export const createCaucusRequest = z.strictObject({});
export const createCaucusResponse = z.strictObject({ caucusId });
export const channelSummary = z.strictObject({
  channelId,
  caucusIds: z.array(caucusId),
  /** Application messages older than this are deleted by the relay (tombstones); absent: kept. */
  retentionDays: retentionDays.optional(),
  /** Closed by its mediator: no more appends; its messages are deleted at deleteAt (ISO 8601). */
  closed: z.strictObject({ deleteAt: z.string() }).optional(),
});
export const listChannelsResponse = z.strictObject({ channels: z.array(channelSummary) });

/** The longest an invite may stay redeemable (the sdk's default is 24 hours). */
export const maxInviteTtlMs = 30 * 24 * 60 * 60_000;

export const createInviteRequest = z.strictObject({
  inviteId: randomId,
  invitePublicKey: ed25519PublicKey,
  /** When the relay stops accepting the invite (ISO 8601); at most 30 days ahead. */
  expiresAt: z.iso.datetime(),
});
export const createInviteResponse = z.strictObject({ inviteId, caucusId, expiresAt: z.string() });

/**
 * A short invite (issue 11): the invite code sealed on the mediator's device under a key derived
 * from a 100-bit short code, kept under a lookup id derived from the same code. The relay can
 * withhold the box, not open or forge it. Taking it deletes it: it opens once.
 */
export const shortInviteLookupId = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "not a short invite lookup id");
/** An invite code is under 1 KiB; its box a little more. */
export const shortInviteBox = base64url(2048).min(1);
export const putShortInviteRequest = z.strictObject({
  lookupId: shortInviteLookupId,
  box: shortInviteBox,
  /** When the relay forgets the box (ISO 8601): no later than the invite's own expiry, at most 30 days ahead. */
  expiresAt: z.iso.datetime(),
});
export const putShortInviteResponse = z.strictObject({
  lookupId: shortInviteLookupId,
  expiresAt: z.string(),
});
export const takeShortInviteResponse = z.strictObject({ box: shortInviteBox });

/**
 * Revoking an invite refuses every later redemption (invite_revoked). If a device redeemed it and
 * still waits to be admitted, that device is dropped (it can no longer log in).
 */
export const revokeInviteResponse = z.strictObject({
  inviteId,
  caucusId,
  droppedDeviceId: deviceId.optional(),
});

/** What the invite key signs when a handler's device redeems it (the server cannot forge it). */
export const redeemSigningString = (
  inviteIdValue: string,
  deviceIdValue: string,
  authPublicKey: string,
  keyPackageSha256: string,
): string =>
  `backchannel-redeem-v1\ninvite:${inviteIdValue}\ndevice:${deviceIdValue}\nauth:${authPublicKey}\nkeypackage:${keyPackageSha256}`;

export const redeemInviteRequest = z.strictObject({
  deviceId: randomId,
  authPublicKey: ed25519PublicKey,
  keyPackage: base64url(limits.keyPackageBytes),
  signature: ed25519Signature,
});
export const redeemInviteResponse = z.strictObject({ deviceId, caucusId });

/** A party device that redeemed an invite. */
export const pendingParty = z.strictObject({
  deviceId,
  inviteId,
  keyPackage: base64url(limits.keyPackageBytes),
});
/** One of the mediator's own devices (staff) that uploaded its key package for this caucus. */
export const pendingMediator = z.strictObject({
  deviceId,
  role: z.literal("mediator"),
  keyPackage: base64url(limits.keyPackageBytes),
});
export const pendingDevice = z.union([pendingParty, pendingMediator]);
export const pendingResponse = z.strictObject({ pending: z.array(pendingDevice) });

// ── the mediator's devices (staff) ──────────────────────────────────────────────────────────────
/**
 * An existing mediator device registers a one-time link (its public key only); the new device
 * redeems it with the link key, which travels in the link code out of band.
 */
export const createMediatorLinkRequest = z.strictObject({
  linkId: randomId,
  linkPublicKey: ed25519PublicKey,
});
export const createMediatorLinkResponse = z.strictObject({ linkId });

/** What the link key signs when a new mediator device redeems it (the server cannot forge it). */
export const mediatorLinkSigningString = (
  linkIdValue: string,
  deviceIdValue: string,
  authPublicKey: string,
): string =>
  `backchannel-mediator-link-v1\nlink:${linkIdValue}\ndevice:${deviceIdValue}\nauth:${authPublicKey}`;

export const redeemMediatorLinkRequest = z.strictObject({
  deviceId: randomId,
  authPublicKey: ed25519PublicKey,
  signature: ed25519Signature,
});
/** The caucuses the new device waits to join (it uploads one key package for each). */
export const redeemMediatorLinkResponse = z.strictObject({ deviceId, caucusIds: z.array(caucusId) });

/** A pending mediator device's MLS key package for one caucus (its credential certifies itself). */
export const uploadKeyPackageRequest = z.strictObject({ keyPackage: base64url(limits.keyPackageBytes) });
export const uploadKeyPackageResponse = z.strictObject({ caucusId, deviceId });

export const removeMediatorDeviceResponse = z.strictObject({
  deviceId,
  /** Caucuses it was still waiting to join; those memberships are dropped. */
  droppedCaucusIds: z.array(caucusId),
});

// ── events ─────────────────────────────────────────────────────────────────────────────────────
export const envelopeKind = z.enum(["commit", "application"]);
export type EnvelopeKind = z.infer<typeof envelopeKind>;

export const welcomeDelivery = z.strictObject({
  deviceId,
  welcome: base64url(limits.welcomeBytes),
  /** The mediator's signature over where the added device starts (crypto/anchor-proof.ts). */
  anchorProof: ed25519Signature.optional(),
});

export const appendEventRequest = z.strictObject({
  eventId: newEventId,
  kind: envelopeKind,
  /** MLS epoch the message was made in; the server orders commits by it (first commit wins). */
  epoch: z.number().int().nonnegative(),
  ciphertext: base64url(limits.ciphertextBytes),
  /** Commit only: Welcomes for devices this commit adds (they become members from this event). */
  welcomes: z.array(welcomeDelivery).max(limits.welcomesPerCommit).optional(),
  /** Commit only: devices this commit removes (they lose access after this event). */
  removes: z.array(deviceId).max(limits.welcomesPerCommit).optional(),
  /**
   * Commit only: for each removed device, the mediator's signature over its removal. The relay
   * keeps it for that device, which believes it was removed only when this signature verifies.
   */
  removalProofs: z.array(removalProof).max(limits.welcomesPerCommit).optional(),
  /**
   * Append only if the chain head is exactly this (else head_moved): a commit that adds devices
   * carries it, so the anchor its sender signed for them is where the commit lands.
   */
  after: z.strictObject({ seq: z.number().int().nonnegative(), hash: sha256Hex }).optional(),
  /**
   * Application message only, opt-in: the hour after which the relay deletes its ciphertext (a
   * tombstone), as protocol/relay-deletion.ts writes it. Any string is taken here so that the relay
   * refuses a malformed one, a past one or one on a commit with its own code (delete_at_invalid).
   */
  deleteAt: z.string().max(64).optional(),
});
export type AppendEventRequest = z.infer<typeof appendEventRequest>;

const eventEnvelope = {
  seq: z.number().int().positive(),
  eventId,
  senderDeviceId: deviceId,
  kind: envelopeKind,
  epoch: z.number().int().nonnegative(),
  hash: sha256Hex,
  /** The sender's relay deletion time (relay-deletion.ts), if it gave one; the hash covers it. */
  deleteAt: deleteAt.optional(),
};
export const liveEvent = z.strictObject({ ...eventEnvelope, ciphertext: base64url(limits.ciphertextBytes) });
export type LiveEvent = z.infer<typeof liveEvent>;
/**
 * An event whose ciphertext the relay deleted (channel retention, a closed channel's deletion, its
 * sender's deleteAt):
 * its envelope and hash stay, with the SHA-256 and size of the deleted bytes, so every device
 * still verifies the chain through it (protocol/transcript.ts) and nobody can read it any more.
 */
export const tombstoneEvent = z.strictObject({
  ...eventEnvelope,
  tombstone: z.literal(true),
  ciphertextSha256: sha256Hex,
  ciphertextBytes: z.number().int().nonnegative(),
});
export type TombstoneEvent = z.infer<typeof tombstoneEvent>;
export const storedEvent = z.union([liveEvent, tombstoneEvent]);
export type StoredEvent = z.infer<typeof storedEvent>;
export const isTombstone = (e: StoredEvent): e is TombstoneEvent => "tombstone" in e;
/** The event's MLS message bytes (base64url), or undefined for a tombstone. */
export const ciphertextOf = (e: StoredEvent): string | undefined =>
  "ciphertext" in e ? e.ciphertext : undefined;

export const appendEventResponse = z.strictObject({
  seq: z.number().int().positive(),
  hash: sha256Hex,
  duplicate: z.boolean(),
});

export const listEventsQuery = z.strictObject({
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().positive().max(limits.pageEvents).default(limits.pageEvents),
});
export const listEventsResponse = z.strictObject({
  events: z.array(storedEvent),
  /** The chain head the server holds now. */
  head: z.strictObject({ seq: z.number().int().nonnegative(), hash: sha256Hex }),
  /**
   * Every application message up to this seq is a tombstone (retention or a closed channel's
   * deletion): devices burn what they decrypted of them. Absent while nothing was deleted.
   */
  deletedThrough: z.number().int().positive().optional(),
  /** The mediator closed this caucus's channel: appends are refused (channel_closed). */
  closed: z.literal(true).optional(),
});

export const welcomeResponse = z.strictObject({
  caucusId,
  welcome: base64url(limits.welcomeBytes),
  /** Sequence number of the commit that added this device; its transcript starts after it. */
  seq: z.number().int().positive(),
  /** Chain hash at `seq`: the anchor from which this device verifies. */
  hash: sha256Hex,
  /** The mediator's signature over (caucus, epoch, seq, hash); the device refuses a Welcome without it. */
  anchorProof: ed25519Signature.optional(),
});

// ── attachment blobs ─────────────────────────────────────────────────────────────────────────
/** How many bytes the upload's body holds: counted against the quota before any is read. */
export const putBlobQuery = z.strictObject({
  bytes: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 40),
});
/** The upload's answer: what the relay stored (the padded, encrypted size). */
export const putBlobResponse = z.strictObject({ blobId, bytes: z.number().int().positive() });
/**
 * A download: the stored bytes as a stream (application/octet-stream), never a whole blob in
 * memory. Not JSON, so not validated as JSON; the sdk checks every chunk's tag and the file's hash.
 */
export interface BlobDownload {
  bytes: number;
  body: AsyncIterable<Uint8Array>;
}
export const blobDownload = z.custom<BlobDownload>(
  (v) => typeof v === "object" && v !== null && "body" in v && "bytes" in v,
);

// ── WebSocket ─────────────────────────────────────────────────────────────────────────────────
export const clientFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("auth"), token: z.string().min(1).max(200) }),
  z.strictObject({ type: z.literal("ping") }),
]);
export const serverFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ready"), deviceId }),
  /** A caucus this device belongs to has events up to `seq`: fetch from your cursor. */
  z.strictObject({ type: z.literal("event"), caucusId, seq: z.number().int().positive() }),
  /** Something about membership changed (welcome waiting, pending device, removal). */
  z.strictObject({ type: z.literal("membership"), caucusId }),
  /**
   * This relay may have missed pushes meant for this device (its link to the other relay nodes
   * was down): fetch every caucus from your cursor.
   */
  z.strictObject({ type: z.literal("sync") }),
  z.strictObject({ type: z.literal("pong") }),
  z.strictObject({ type: z.literal("error"), error: z.string(), message: z.string() }),
]);
export type ServerFrame = z.infer<typeof serverFrame>;
export type ClientFrame = z.infer<typeof clientFrame>;

export const errorResponse = z.strictObject({
  error: z.string(),
  message: z.string(),
  /**
   * On a 429 (rate_limited): whole seconds until the same request may succeed, as the Retry-After
   * header says too. No other refusal carries it.
   */
  retry_after: z.number().int().nonnegative().optional(),
});

// ── the relay itself ────────────────────────────────────────────────────────────────────────────
export const healthResponse = z.strictObject({ ok: z.literal(true) });
/** The served OpenAPI document: its shape is OpenAPI's, so only the version field is ours to check. */
export const openApiDocument = z.looseObject({ openapi: z.string() });
