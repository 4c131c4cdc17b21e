import { sha256HexOf, utf8 } from "../protocol/index.js";
import type { TranscriptEntry } from "./device-state.js";

export interface UnderstandingStatus {
  understandingId: string;
  text: string;
  endorsedBy: string[];
  pending: string[];
  /** True only when every party endorsed this exact text. */
  reached: boolean;
}

/**
 * Invariant 4: an understanding exists only when each party, in its own caucus, endorsed the
 * identical text (same words, same hash) of a proposal. Parallel notifications are not one.
 */
export function understandingStatus(
  caucuses: readonly { partyName: string; entries: readonly TranscriptEntry[] }[],
): UnderstandingStatus[] {
  const proposals = new Map<string, string>();
  for (const c of caucuses)
    for (const e of c.entries)
      if (e.senderRole === "mediator" && e.payload?.body.type === "understanding_proposal")
        proposals.set(e.payload.body.understandingId, e.payload.body.text);
  return [...proposals].map(([understandingId, text]) => {
    const hash = sha256HexOf(utf8(text));
    const endorsedBy = caucuses
      .filter((c) =>
        c.entries.some(
          (e) =>
            e.senderRole === "party" &&
            e.payload?.body.type === "endorsement" &&
            e.payload.body.understandingId === understandingId &&
            e.payload.body.textSha256 === hash &&
            e.payload.body.text === text,
        ),
      )
      .map((c) => c.partyName);
    const pending = caucuses.map((c) => c.partyName).filter((n) => !endorsedBy.includes(n));
    return { understandingId, text, endorsedBy, pending, reached: pending.length === 0 };
  });
}

/** An understanding as one party's caucus shows it: proposed, endorsed here, reached. */
export interface CaucusUnderstanding {
  understandingId: string;
  text: string;
  /** This party (any of its handlers) endorsed the exact text. */
  endorsed: boolean;
  /**
   * The mediator, which alone sees every caucus, said every party endorsed these exact words. A
   * party cannot see the other caucuses: this rests on the mediator's word, as a receipt does.
   */
  reached: boolean;
}

/** The understanding proposed in this caucus under `understandingId`, if any, as this party sees it. */
export function caucusUnderstanding(
  entries: readonly TranscriptEntry[],
  understandingId: string,
): CaucusUnderstanding | undefined {
  const proposal = entries.find(
    (e) =>
      e.senderRole === "mediator" &&
      e.payload?.body.type === "understanding_proposal" &&
      e.payload.body.understandingId === understandingId,
  )?.payload?.body;
  if (proposal?.type !== "understanding_proposal") return undefined;
  const { text } = proposal;
  const hash = sha256HexOf(utf8(text));
  const says = (
    e: TranscriptEntry,
    type: "endorsement" | "understanding_reached",
    role: "party" | "mediator",
  ) =>
    e.senderRole === role &&
    e.payload?.body.type === type &&
    e.payload.body.understandingId === understandingId &&
    e.payload.body.textSha256 === hash &&
    e.payload.body.text === text;
  const endorsedAt = entries.find((e) => says(e, "endorsement", "party"))?.seq;
  // A "reached" is believed only for these words, after this party endorsed them: the mediator
  // cannot have seen every party endorse before this one did.
  const reached =
    endorsedAt !== undefined &&
    entries.some((e) => e.seq > endorsedAt && says(e, "understanding_reached", "mediator"));
  return { understandingId, text, endorsed: endorsedAt !== undefined, reached };
}
