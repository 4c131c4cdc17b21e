import { z } from "zod";
import { utf8Length } from "./encoding.js";
import { blobId, ed25519Signature, eventId, sha256Hex } from "./ids.js";
import { limits } from "./limits.js";
import { deleteAt } from "./relay-deletion.js";
import { stance } from "./stance.js";

/**
 * What travels inside an MLS application message: the server never sees any of this.
 * Every decrypted payload is validated with `eventPayload` before the sdk uses it.
 */

export const signalKind = z.enum(["notification_of_intent", "reply", "question", "personal_message"]);
export type SignalKind = z.infer<typeof signalKind>;

/** What the sender allows the mediator to do with a signal. */
export const disclosure = z.enum(["verbatim", "substance", "mediator_only"]);
export type Disclosure = z.infer<typeof disclosure>;

/** How a conveyed signal names its source. */
export const attribution = z.enum(["party", "anonymous"]);
export type Attribution = z.infer<typeof attribution>;

/** How the mediator carried a signal. */
export const conveyanceMode = z.enum(["verbatim", "substance"]);
export type ConveyanceMode = z.infer<typeof conveyanceMode>;

/** The limit in words a person reads: "1 MiB (1048576 bytes)". */
export const textLimitWords = `${limits.textBytes / 1024 / 1024} MiB (${limits.textBytes} bytes) of UTF-8`;

/**
 * Any text people write. Its limit is in bytes of UTF-8, checked on the device that writes it
 * (before anything is encrypted or sent) and again on every device that reads it.
 */
const text = z
  .string()
  .trim()
  .min(1)
  .superRefine((value, ctx) => {
    const bytes = utf8Length(value);
    if (bytes > limits.textBytes)
      ctx.addIssue({
        code: "custom",
        message: `text too long: ${bytes} bytes of UTF-8, and a text may have at most ${textLimitWords}; checked on this device, nothing was sent to the relay`,
      });
  });
const name = z.string().trim().min(1).max(200);
const isoTime = z.iso.datetime({ offset: true });

/** What a receipt says of a file: which one, exactly (its name, size and SHA-256). */
export const attachmentSummary = z.strictObject({
  name: z.string().min(1).max(255),
  size: z.number().int().nonnegative().max(limits.attachmentBytes),
  sha256: sha256Hex,
});
export type AttachmentSummary = z.infer<typeof attachmentSummary>;

/**
 * A file attached to an event (issue 12): its encrypted blob on the relay, in this caucus, and
 * what opens and checks it (sdk/blob-crypto.ts). The key exists only inside MLS messages.
 */
export const attachment = z.strictObject({
  ...attachmentSummary.shape,
  blobId,
  /** The file's own AES-256-GCM key, fresh for each blob. */
  key: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "not a 256-bit key"),
  /** Its media type, as the sender's device named it (for people; never trusted to render). */
  type: z.string().max(255),
});
export type Attachment = z.infer<typeof attachment>;
const attachments = z.array(attachment).min(1).max(limits.attachmentsPerEvent);

export const signalBody = z.strictObject({
  type: z.literal("signal"),
  signalKind,
  text,
  stance,
  disclosure,
  attribution,
  expiresAt: isoTime.optional(),
  /** The principal this is said on behalf of (a personal message), if any. */
  onBehalfOf: name.optional(),
  /** Conveyance (in this caucus) this replies to, if any. */
  inReplyTo: eventId.optional(),
  /** Files, conveyable as the text is (`disclosure`): verbatim, or not at all but in substance. */
  attachments: attachments.optional(),
});

/** The mediator tells a caucus what it is about; names only, never other parties' handlers. */
export const channelInfoBody = z.strictObject({
  type: z.literal("channel_info"),
  topic: name,
  partyName: name,
  mediatorName: name,
  /**
   * The mediator's identity key over (caucus, channel, topic, party name): lets the mediator's other
   * devices place this caucus in its channel without trusting the relay's grouping. A party learns
   * nothing from it (it cannot find the channel id from a signature).
   */
  channelProof: ed25519Signature.optional(),
});

export const conveyedSource = z.enum(["signal", "acknowledgement"]);

export const conveyanceBody = z.strictObject({
  type: z.literal("conveyance"),
  source: conveyedSource,
  mode: conveyanceMode,
  text,
  signalKind: signalKind.optional(),
  stance,
  /** The party's display name, or absent when the sender asked to stay anonymous ("a party"). */
  fromParty: name.optional(),
  expiresAt: isoTime.optional(),
  /**
   * Verbatim: the source's files, the same bytes under new blobs in this caucus. Substance: only
   * the mediator's own files.
   */
  attachments: attachments.optional(),
});

export const receiptBody = z.strictObject({
  type: z.literal("receipt"),
  /** The event in this caucus that was conveyed. */
  sourceEventId: eventId,
  mode: conveyanceMode,
  /** Exactly the words the other side received in this party's name. */
  text,
  attributedAs: z.enum(["party", "anonymous"]),
  toParties: z.array(name).min(1).max(64),
  /** Exactly the files the other side received with it, if any. */
  attachments: z.array(attachmentSummary).min(1).max(limits.attachmentsPerEvent).optional(),
});

export const acknowledgementBody = z.strictObject({
  type: z.literal("acknowledgement"),
  /** The conveyance (in this caucus) being acknowledged. */
  conveyanceEventId: eventId,
  text: text.optional(),
  stance,
  disclosure,
  attribution,
});

export const understandingProposalBody = z.strictObject({
  type: z.literal("understanding_proposal"),
  understandingId: eventId,
  text,
});

export const endorsementBody = z.strictObject({
  type: z.literal("endorsement"),
  understandingId: eventId,
  /** SHA-256 of the exact UTF-8 text endorsed; an understanding exists only if all parties' match. */
  textSha256: sha256Hex,
  text,
});

/**
 * The mediator tells each party that every party endorsed an understanding's exact text (the
 * mediator alone sees every caucus; a party learns that the others endorsed, never who handles
 * them). A party believes it only for a proposal in its own caucus with the same words and hash.
 */
export const understandingReachedBody = z.strictObject({
  type: z.literal("understanding_reached"),
  understandingId: eventId,
  textSha256: sha256Hex,
  text,
});

export const noteBody = z.strictObject({
  type: z.literal("note"),
  text,
  attachments: attachments.optional(),
});

/**
 * The mediator is here, and saw the chain up to `seen` at `sentAt` (both in the payload): posted by
 * a mediator device when a caucus has heard nothing from the mediator for a while, so that a
 * member whom the relay withholds newer events from notices within a bounded time.
 */
export const heartbeatBody = z.strictObject({ type: z.literal("heartbeat") });

export const eventBody = z.discriminatedUnion("type", [
  signalBody,
  channelInfoBody,
  conveyanceBody,
  receiptBody,
  acknowledgementBody,
  understandingProposalBody,
  endorsementBody,
  understandingReachedBody,
  noteBody,
  heartbeatBody,
]);
export type EventBody = z.infer<typeof eventBody>;
export type EventType = EventBody["type"];

/** Bodies only the mediator may send, and bodies only a party may send. */
export const mediatorOnlyTypes: readonly EventType[] = [
  "channel_info",
  "conveyance",
  "receipt",
  "understanding_proposal",
  "understanding_reached",
  "heartbeat",
  // The mediator's own words to one party: from a party device it would pose as the mediator.
  "note",
];
export const partyOnlyTypes: readonly EventType[] = ["signal", "acknowledgement", "endorsement"];

export const eventPayload = z.strictObject({
  v: z.literal(1),
  eventId,
  caucusId: z.string(),
  sentAt: isoTime,
  /** The chain head the sender had verified when it sent this: members compare it with their own. */
  seen: z.strictObject({ seq: z.number().int().nonnegative(), hash: sha256Hex }),
  /**
   * The relay deletion time the sender put in this event's envelope (relay-deletion.ts), signed
   * here so that devices catch a relay that shows another one (or one the sender never gave).
   */
  deleteAt: deleteAt.optional(),
  body: eventBody,
});
export type EventPayload = z.infer<typeof eventPayload>;
