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
