import { describeStance, type EventBody } from "../protocol/index.js";
import type { TranscriptEntry } from "./device-state.js";

/**
 * Derived views of a transcript, shared by every renderer (CLI now, web next): which signals were
 * conveyed (their receipts) and which conveyances were acknowledged.
 */
export interface EntryView {
  entry: TranscriptEntry;
  body: EventBody | undefined;
  /** Receipts posted for this signal/acknowledgement (what was said in this party's name). */
  receipts: TranscriptEntry[];
  /** Acknowledgements of this conveyance. */
  acknowledgements: TranscriptEntry[];
  stanceText: string | undefined;
}

export function entryViews(entries: readonly TranscriptEntry[]): EntryView[] {
  const receipts = new Map<string, TranscriptEntry[]>();
  const acks = new Map<string, TranscriptEntry[]>();
  for (const e of entries) {
    const b = e.payload?.body;
    if (b?.type === "receipt") receipts.set(b.sourceEventId, [...(receipts.get(b.sourceEventId) ?? []), e]);
    if (b?.type === "acknowledgement")
      acks.set(b.conveyanceEventId, [...(acks.get(b.conveyanceEventId) ?? []), e]);
  }
  return entries.map((entry) => {
    const body = entry.payload?.body;
    return {
      entry,
      body,
      receipts: receipts.get(entry.eventId) ?? [],
      acknowledgements: acks.get(entry.eventId) ?? [],
      stanceText: body && "stance" in body ? describeStance(body.stance) : undefined,
    };
  });
}

/** Finds an entry by sequence number ("7" or "#7"), full event id, or unique event-id prefix. */
export function findEntry(entries: readonly TranscriptEntry[], ref: string): TranscriptEntry | undefined {
  const r = ref.trim().replace(/^#/, "");
  if (/^\d+$/.test(r)) return entries.find((e) => e.seq === Number(r));
  const exact = entries.find((e) => e.eventId === r);
  if (exact) return exact;
  const matches = entries.filter((e) => e.eventId.startsWith(r));
  return matches.length === 1 ? matches[0] : undefined;
}
