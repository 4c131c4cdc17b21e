import { describeStance, type EventBody } from "../protocol/index.js";
import type { TranscriptEntry } from "./device-state.js";
import {
  conveyability,
  isConveyable,
  receiptVerdict,
  type Conveyability,
  type ReceiptBody,
  type ReceiptVerdict,
} from "./disclosure-policy.js";

/** A receipt posted for a signal, judged against what its sender allowed. */
export interface ReceiptView {
  entry: TranscriptEntry;
  receipt: ReceiptBody;
  verdict: ReceiptVerdict;
}

/**
 * Derived views of a transcript, shared by every renderer (CLI and console): which signals were
 * conveyed (their receipts, judged by the disclosure policy), what may still be conveyed, and
 * which conveyances were acknowledged.
 */
export interface EntryView {
  entry: TranscriptEntry;
  body: EventBody | undefined;
  /** Receipts posted for this signal/acknowledgement (what was said in this party's name). */
  receipts: ReceiptView[];
  /** For a party's signal or acknowledgement: what the mediator may still do with it. */
  conveyability: Conveyability | undefined;
  /** Acknowledgements of this conveyance. */
  acknowledgements: TranscriptEntry[];
  stanceText: string | undefined;
}

export function entryViews(entries: readonly TranscriptEntry[], now = Date.now()): EntryView[] {
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
    const conveyable = isConveyable(body) ? body : undefined;
    return {
      entry,
      body,
      receipts: (receipts.get(entry.eventId) ?? []).flatMap((r) =>
        r.payload?.body.type === "receipt" && conveyable
          ? [{ entry: r, receipt: r.payload.body, verdict: receiptVerdict(conveyable, r.payload.body) }]
          : [],
      ),
      conveyability: conveyable ? conveyability(conveyable, now) : undefined,
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
