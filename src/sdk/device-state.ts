import { z } from "zod";
import {
  attachment,
  caucusId,
  channelId,
  conveyanceBody,
  deleteAt,
  receiptBody,
  deviceId,
  ed25519PublicKey,
  eventId,
  eventPayload,
  inviteId,
  role,
  sha256Hex,
} from "../protocol/index.js";

/**
 * Everything a device keeps: keys, MLS group state and the decrypted, verified transcript. It is
 * validated whenever it is read back from storage, like any other input.
 */
const b64 = z.string().regex(/^[A-Za-z0-9_-]*$/);
const head = z.strictObject({ seq: z.number().int().nonnegative(), hash: sha256Hex });
export type Head = z.infer<typeof head>;

export const transcriptProblem = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("gap"), expectedSeq: z.number(), gotSeq: z.number() }),
  z.strictObject({ kind: z.literal("altered"), seq: z.number(), eventId: z.string() }),
  z.strictObject({ kind: z.literal("fork"), seq: z.number(), detail: z.string() }),
  z.strictObject({
    kind: z.literal("undecryptable"),
    seq: z.number(),
    eventId: z.string(),
    detail: z.string(),
  }),
]);

export const transcriptEntry = z.strictObject({
  seq: z.number().int().positive(),
  eventId,
  hash: sha256Hex,
  senderDeviceId: deviceId,
  senderRole: role,
  kind: z.enum(["commit", "application"]),
  epoch: z.number().int().nonnegative(),
  /** When this device took the event in (its own clock); absent in entries stored before it was kept. */
  receivedAt: z.iso.datetime({ offset: true }).optional(),
  /** Decrypted, validated content (application events only). */
  payload: eventPayload.optional(),
  /** Membership change (commit events only): device ids added and removed. */
  membership: z.strictObject({ added: z.array(deviceId), removed: z.array(deviceId) }).optional(),
  /**
   * A member's message this device could not accept: kept in the chain, attributed to its sender
   * (senderDeviceId), shown as a warning, never as content.
   */
  skipped: z
    .strictObject({ reason: z.enum(["unreadable", "malformed", "unauthorised"]), detail: z.string() })
    .optional(),
  /**
   * Its content is gone from this device (sdk/core/burn.ts): `expired`, its own expiresAt passed;
   * `deleted`, the relay deleted it (retention, a closed channel). The chain link (seq, hash)
   * stays, so the transcript still verifies; kept of the payload: its type and sentAt (when the
   * sender spoke, which liveness needs), if this device ever read it.
   */
  burnt: z
    .strictObject({
      reason: z.enum(["expired", "deleted"]),
      type: z.string().max(40).optional(),
      sentAt: z.string().max(40).optional(),
    })
    .optional(),
});
export type TranscriptEntry = z.infer<typeof transcriptEntry>;

export const caucusRecord = z.strictObject({
  caucusId,
  channelId: channelId.optional(),
  partyName: z.string().optional(),
  topic: z.string().optional(),
  mediatorName: z.string().optional(),
  group: b64.optional(),
  /** Where this device's view begins (its join commit), and the last verified event. */
  anchor: head,
  head,
  entries: z.array(transcriptEntry),
  pendingCommit: z
    .strictObject({ eventId, next: b64, added: z.array(deviceId), removed: z.array(deviceId) })
    .optional(),
  /** Own application messages: MLS does not let a sender decrypt its own ciphertext. */
  outbox: z.record(z.string(), eventPayload),
  /**
   * Own fragments of a large event (core/fragments.ts) posted or being posted: their ids, so that
   * this device, which cannot decrypt them, knows them when they come back.
   */
  ownFragments: z.array(eventId).optional(),
  /** Fragments received of events whose last fragment has not come yet, by the event's id. */
  partials: z
    .record(
      z.string(),
      z.strictObject({ senderDeviceId: deviceId, count: z.number().int().positive(), shares: z.array(b64) }),
    )
    .optional(),
  problem: transcriptProblem.optional(),
  removed: z.boolean().default(false),
  /**
   * The relay refuses this device the caucus ("not_found", "device_removed") without the
   * mediator's signed word that it was removed: the device keeps its state and tries again.
   */
  accessRefused: z.string().optional(),
  /** No word from the mediator since this time (its sentAt), for longer than the bound. */
  quietSince: z.string().optional(),
  /** The relay says the mediator closed the channel: nothing more can be sent. */
  closed: z.boolean().optional(),
});
export type CaucusRecord = z.infer<typeof caucusRecord>;

/** A device's MLS keys between handing in its key package and receiving its Welcome. */
const storedJoinKeys = z.strictObject({
  keyPackage: b64,
  initPrivateKey: b64,
  hpkePrivateKey: b64,
  signaturePrivateKey: b64,
});
export type StoredJoinKeys = z.infer<typeof storedJoinKeys>;

export const owedReceipt = z.strictObject({
  caucusId,
  eventId,
  body: z.unknown(),
});

/**
 * A conveyance the mediator started: one event id per target, chosen before anything is sent (so
 * retries are idempotent), and which targets it is in the verified transcript of. A receipt names
 * only delivered targets; `receiptDue` is a receipt being posted (its id chosen before it is sent).
 */
export const pendingConveyance = z.strictObject({
  id: eventId,
  sourceCaucusId: caucusId,
  sourceEventId: eventId,
  conveyance: conveyanceBody,
  /** The source signal's relay deletion time, which each conveyance carries too. */
  deleteAt: deleteAt.optional(),
  receipt: receiptBody.pick({ mode: true, text: true, attributedAs: true, attachments: true }),
  targets: z.array(
    z.strictObject({
      caucusId,
      partyName: z.string(),
      eventId,
      /** The files as uploaded into this target caucus (new blobs, the same bytes), if any. */
      attachments: z.array(attachment).optional(),
      delivered: z.boolean(),
      receipted: z.boolean(),
      /** Why the last attempt did not land (an error code), for the mediator's eyes. */
      lastError: z.string().optional(),
    }),
  ),
  receiptDue: z.strictObject({ eventId, caucusIds: z.array(caucusId) }).optional(),
});
export type PendingConveyance = z.infer<typeof pendingConveyance>;

export const deviceState = z.strictObject({
  v: z.literal(1),
  serverUrl: z.string().url(),
  deviceId,
  role,
  name: z.string(),
  authKey: z.strictObject({ secret: b64, publicKey: ed25519PublicKey }),
  /** The mediator's identity key (mediator) or the handler's (party). */
  identityKey: z.strictObject({ secret: b64, publicKey: ed25519PublicKey }),
  /** Pinned mediator identity key; for the mediator, its own. */
  mediatorKey: ed25519PublicKey,
  channels: z.record(
    z.string(),
    z.strictObject({
      channelId,
      topic: z.string(),
      caucuses: z.array(z.strictObject({ caucusId, partyName: z.string() })),
    }),
  ),
  /**
   * Invites this device made; only this device admits their handlers. Fields added later are
   * optional so that older stored states still load, and their absence means the safe thing:
   * no expiresAt → createdAt + 24 hours; no confirm → the mediator must confirm.
   */
  invites: z.record(
    z.string(),
    z.strictObject({
      inviteId,
      caucusId,
      inviteKey: ed25519PublicKey,
      createdAt: z.string(),
      admittedDeviceId: deviceId.optional(),
      /** Redemptions after this are refused by the relay; this device admits none it saw later. */
      expiresAt: z.string().optional(),
      /** false: admitted without the mediator's confirmation (an explicit opt-out). */
      confirm: z.boolean().optional(),
      /** The mediator compared verification codes with this handler and admitted it. */
      confirmed: z.strictObject({ deviceId, handlerKey: ed25519PublicKey }).optional(),
      /**
       * The one redemption this device saw while the invite was valid: it may be admitted after
       * the expiry (the device's own observation, not the relay's word), and no other may.
       */
      seen: z.strictObject({ deviceId, handlerKey: ed25519PublicKey }).optional(),
      revoked: z.boolean().optional(),
    }),
  ),
  /** A party device between redeeming its invite and receiving its Welcome. */
  joinKeys: storedJoinKeys.extend({ caucusId }).optional(),
  /**
   * A mediator device waiting to join caucuses of its mediator's channels (it was linked, or
   * another of the mediator's devices opened the caucus): its MLS keys per caucus, until the
   * Welcome arrives. `uploaded`: the key package is with the relay.
   */
  mediatorJoinKeys: z.record(z.string(), storedJoinKeys.extend({ uploaded: z.boolean() })).optional(),
  /** The mediator's devices this device removed: it never admits them again. */
  removedMediatorDevices: z.array(deviceId).optional(),
  caucuses: z.record(z.string(), caucusRecord),
  /**
   * Receipts owed by an earlier version, which wrote the receipt before conveying: still flushed,
   * never written any more.
   */
  owedReceipts: z.array(owedReceipt).default([]),
  /** Conveyances not yet delivered to every target, or not yet receipted. */
  pendingConveyances: z.array(pendingConveyance).default([]),
});
export type DeviceState = z.infer<typeof deviceState>;
