import type { CaucusRecord, TranscriptEntry } from "../device-state.js";

/**
 * Burning: what a device decrypted is removed from its state once it is no longer to be kept,
 * leaving the entry's chain link (seq, event id, hash) so the transcript still verifies, and its
 * body type and sentAt (no words). Two reasons:
 * - `expired`: the body's own expiresAt (a signal's, a conveyance's) passed on this device's clock;
 * - `deleted`: the relay deleted the ciphertext (channel retention or a closed channel's deletion),
 *   shown as a tombstone or covered by the relay's `deletedThrough`. That is the relay's word: a
 *   lying relay can make a device forget early, which costs the same as deleting the ciphertext
 *   before the device read it, something a relay can always do.
 * Own messages waiting in the outbox for their event are burnt with it.
 */
export function burnEntry(record: CaucusRecord, entry: TranscriptEntry, reason: "expired" | "deleted"): void {
  const payload = entry.payload;
  delete entry.payload;
  entry.burnt = {
    reason,
    ...(payload ? { type: payload.body.type, sentAt: payload.sentAt } : entry.burnt ? pick(entry.burnt) : {}),
  };
  delete record.outbox[entry.eventId];
}

const pick = (b: NonNullable<TranscriptEntry["burnt"]>) => ({
  ...(b.type !== undefined ? { type: b.type } : {}),
  ...(b.sentAt !== undefined ? { sentAt: b.sentAt } : {}),
});

/**
 * Burns every entry whose content is due: application messages up to `deletedThrough` (the
 * relay's word) and bodies whose expiresAt is past. Returns the indices of the entries it burnt
 * (they changed in place: the caller has them saved again).
 */
export function burnDue(record: CaucusRecord, now: number, deletedThrough = 0): number[] {
  const burnt: number[] = [];
  record.entries.forEach((entry, n) => {
    if (!entry.payload) return;
    const body = entry.payload.body;
    const reason =
      entry.kind === "application" && entry.seq <= deletedThrough
        ? "deleted"
        : "expiresAt" in body && body.expiresAt !== undefined && Date.parse(body.expiresAt) <= now
          ? "expired"
          : undefined;
    if (!reason) return;
    burnEntry(record, entry, reason);
    burnt.push(n);
  });
  return burnt;
}
