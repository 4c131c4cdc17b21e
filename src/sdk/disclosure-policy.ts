import {
  attribution,
  conveyanceMode,
  disclosure,
  type Attribution,
  type ConveyanceMode,
  type Disclosure,
  type EventBody,
  type SignalKind,
} from "../protocol/index.js";
import { SdkError } from "./errors.js";

/**
 * Invariant 3, in one place: which ways of conveying a sender allowed, when a signal can no longer
 * be conveyed, whether a receipt stayed within what the sender allowed, and the words for each.
 * The sdk enforces these rules before it sends; the CLI and the console only format them, so the
 * two can never disagree about what is allowed or how a receipt is judged.
 */

/** What a party says that the mediator may convey: a signal or an acknowledgement. */
export type ConveyableBody = Extract<EventBody, { type: "signal" | "acknowledgement" }>;
export type ReceiptBody = Extract<EventBody, { type: "receipt" }>;

export function isConveyable(body: EventBody | undefined): body is ConveyableBody {
  return body?.type === "signal" || body?.type === "acknowledgement";
}

/** The ways the sender allowed: none for mediator-only, substance only, or both. */
export function allowedModes(disclosure: Disclosure): ConveyanceMode[] {
  if (disclosure === "mediator_only") return [];
  if (disclosure === "substance") return ["substance"];
  return ["verbatim", "substance"];
}

export function isExpired(body: ConveyableBody, now = Date.now()): boolean {
  return body.type === "signal" && body.expiresAt !== undefined && Date.parse(body.expiresAt) < now;
}

/** What the mediator may do with a signal right now. */
export type Conveyability =
  | {
      conveyable: true;
      modes: ConveyanceMode[];
      /** The sender asked not to be named. */ anonymousOnly: boolean;
    }
  | { conveyable: false; reason: "mediator_only" | "expired" };

export function conveyability(body: ConveyableBody, now = Date.now()): Conveyability {
  if (body.disclosure === "mediator_only") return { conveyable: false, reason: "mediator_only" };
  if (isExpired(body, now)) return { conveyable: false, reason: "expired" };
  return {
    conveyable: true,
    modes: allowedModes(body.disclosure),
    anonymousOnly: body.attribution === "anonymous",
  };
}

/** Refuses a conveyance the sender did not allow (the sdk runs this before anything is sent). */
export function checkConveyance(
  body: ConveyableBody,
  mode: ConveyanceMode,
  attribution: Attribution,
  now = Date.now(),
): void {
  const breach = breaches(body, { mode, attributedAs: attribution })[0];
  if (breach) throw new SdkError(breachCode[breach], breachRefusal[breach]);
  if (isExpired(body, now))
    throw new SdkError("signal_expired", "this signal has expired and can no longer be conveyed");
}

/** Ways a conveyance can go beyond what the sender allowed. */
export type Breach = "mediator_only" | "verbatim_of_substance" | "named_anonymous";

function breaches(
  body: ConveyableBody,
  conveyed: { mode: ConveyanceMode; attributedAs: Attribution },
): Breach[] {
  const out: Breach[] = [];
  if (body.disclosure === "mediator_only") out.push("mediator_only");
  if (body.disclosure === "substance" && conveyed.mode === "verbatim") out.push("verbatim_of_substance");
  if (body.attribution === "anonymous" && conveyed.attributedAs === "party") out.push("named_anonymous");
  return out;
}

const breachCode = {
  mediator_only: "disclosure_mediator_only",
  verbatim_of_substance: "disclosure_substance_only",
  named_anonymous: "attribution_anonymous",
} as const satisfies Record<Breach, string>;

const breachRefusal: Record<Breach, string> = {
  mediator_only: "this signal is for the mediator only and cannot be conveyed",
  verbatim_of_substance: "the sender allowed this signal to be conveyed in substance only, not verbatim",
  named_anonymous: "the sender asked not to be named; convey it as from 'a party'",
};

/**
 * A receipt is evidence of what was said in the sender's name. One that goes beyond what the
 * sender allowed (a hostile or buggy mediator device) is still shown, and judged as a breach.
 */
export type ReceiptVerdict = { within: true } | { within: false; breaches: Breach[] };

export function receiptVerdict(source: ConveyableBody, receipt: ReceiptBody): ReceiptVerdict {
  const found = breaches(source, receipt);
  return found.length ? { within: false, breaches: found } : { within: true };
}

/**
 * What a sender allows when it says nothing, the same for a signal and an acknowledgement (an
 * acknowledgement offers the same choices): it may be conveyed in substance only, naming its party.
 */
export const disclosureDefaults = { disclosure: "substance", attribution: "party" } as const satisfies {
  disclosure: Disclosure;
  attribution: Attribution;
};
/** The same as {@link disclosureDefaults}. */
export const signalDefaults = disclosureDefaults;
/** @deprecated the same as {@link disclosureDefaults} (it once allowed verbatim). */
export const acknowledgementDefaults = disclosureDefaults;

/** Every disclosure a sender may choose, most open first (the order forms and help list them). */
export const disclosureChoices = disclosure.options;
export const attributionChoices = attribution.options;
export const conveyanceModeChoices = conveyanceMode.options;

// The words for each, shared by every renderer.

/** How a sender chooses a disclosure in a form. */
export const disclosureChoiceWords: Record<Disclosure, string> = {
  verbatim: "Convey it verbatim (or in substance)",
  substance: "Convey it in substance only",
  mediator_only: "Keep it for the mediator only",
};

/** How a sender chooses an attribution in a form. */
export const attributionChoiceWords: Record<Attribution, string> = {
  party: "My party",
  anonymous: "“A party” (anonymous)",
};

export const disclosureWords: Record<Disclosure, string> = {
  verbatim: "may be conveyed verbatim",
  substance: "substance only",
  mediator_only: "mediator only",
};

export const attributionWords: Record<Attribution, string> = {
  party: "named",
  anonymous: "anonymous (“a party”)",
};

export const modeWords: Record<ConveyanceMode, string> = {
  verbatim: "verbatim",
  substance: "in substance",
};

/** How the mediator chooses a mode in a form. */
export const modeChoiceWords: Record<ConveyanceMode, string> = {
  verbatim: "Verbatim (the exact words)",
  substance: "In substance (your wording)",
};

export const signalKindWords: Record<SignalKind, string> = {
  notification_of_intent: "Notification of intent",
  reply: "Reply",
  question: "Question",
  personal_message: "Personal message",
};

/** Why nothing was conveyed yet, for a signal without receipts. */
export function notConveyedWords(c: Conveyability): string {
  if (c.conveyable) return "Not conveyed yet.";
  return c.reason === "mediator_only"
    ? "Mediator only: not conveyable."
    : "Expired: can no longer be conveyed.";
}

export const breachWords: Record<Breach, string> = {
  mediator_only: "it was marked mediator only",
  verbatim_of_substance: "it was allowed in substance only, not verbatim",
  named_anonymous: "the sender asked not to be named",
};

/** The verdict in words: empty when within what was allowed. */
export function verdictWords(verdict: ReceiptVerdict, viewer: "mediator" | "party"): string {
  if (verdict.within) return "";
  const whose = viewer === "party" ? "what you allowed" : "what the sender allowed";
  return `Beyond ${whose}: ${verdict.breaches.map((b) => breachWords[b]).join("; ")}.`;
}

/** A member's message this device skipped, in words: whose, and why it is not shown. */
export function skippedWords(
  skipped: { reason: "unreadable" | "malformed" | "unauthorised"; detail: string },
  sender: string,
): string {
  const why = {
    unreadable: "could not be decrypted",
    malformed: "is not a valid message",
    unauthorised: "is not something its sender may send",
  }[skipped.reason];
  return `A message from ${sender} ${why}, so it was skipped (${skipped.detail}). The caucus goes on; ask the sender if something is missing.`;
}

/** A burnt message (core/burn.ts) in words: that it expired, never what it said. */
export function burntWords(burnt: { reason: "expired" | "deleted" }): string {
  return burnt.reason === "expired"
    ? "expired: its words were burnt from this device"
    : "expired: deleted by the relay (retention), its words burnt from this device";
}

/** How a receipt says the source was named, from the viewer's side. */
export function attributedAsWords(
  attributedAs: Attribution,
  viewer: "mediator" | "party",
  partyName?: string,
): string {
  if (attributedAs === "anonymous") return "as “a party”";
  return viewer === "mediator" ? `naming ${partyName ?? "the party"}` : "naming your party";
}

/** One receipt as a sentence: "Conveyed to B verbatim, naming your party". */
export function receiptWords(receipt: ReceiptBody, viewer: "mediator" | "party", partyName?: string): string {
  return `Conveyed to ${receipt.toParties.join(", ")} ${modeWords[receipt.mode]}, ${attributedAsWords(receipt.attributedAs, viewer, partyName)}`;
}
