import { z } from "zod";
import { canonicalJson, eventId, fromUtf8, limits, safeParse, utf8 } from "../../protocol/index.js";

/**
 * An event too large for one MLS message (a long text: limits.textBytes) travels as several, each
 * its own event on the relay: fragments 0…count-2 under fresh random ids, the last one under the
 * event's own id. Each is an MLS application message padded to its bucket like any other, so the
 * relay learns how many 256 KiB buckets the event filled, and nothing of what is in them.
 *
 * A fragment's plaintext is a zero byte (no event payload, which is JSON, starts with one), its
 * header as JSON, a newline, then its share of the payload's bytes.
 */
const MARK = 0;
const NEWLINE = 0x0a;

export const fragmentHeader = z.strictObject({
  /** The event this is part of: the id of its last fragment. */
  of: eventId,
  index: z.number().int().nonnegative(),
  count: z.number().int().min(2).max(limits.fragmentsPerEvent),
});
export type FragmentHeader = z.infer<typeof fragmentHeader>;

/** Room for the header: `of` is 36 characters, the rest a few dozen. */
const HEADER_ROOM = 128;
const SHARE = limits.fragmentBytes - HEADER_ROOM;

export interface OutgoingMessage {
  /** The relay event id it is posted under. */
  eventId: string;
  plaintext: Uint8Array;
}

/** The MLS plaintexts an event's payload goes out as: itself, or its fragments in order. */
export function splitPayload(
  payload: Uint8Array,
  eventIdValue: string,
  newId: () => string = () => crypto.randomUUID(),
): OutgoingMessage[] {
  if (payload.length <= limits.fragmentBytes) return [{ eventId: eventIdValue, plaintext: payload }];
  const count = Math.ceil(payload.length / SHARE);
  return Array.from({ length: count }, (_, index) => {
    const header = utf8(canonicalJson({ of: eventIdValue, index, count }));
    const share = payload.subarray(index * SHARE, (index + 1) * SHARE);
    const plaintext = new Uint8Array(1 + header.length + 1 + share.length);
    plaintext[0] = MARK;
    plaintext.set(header, 1);
    plaintext[1 + header.length] = NEWLINE;
    plaintext.set(share, header.length + 2);
    return { eventId: index === count - 1 ? eventIdValue : newId(), plaintext };
  });
}

/**
 * A decrypted plaintext as a fragment: undefined when it is a whole payload, a reason when it is
 * a fragment its sender got wrong.
 */
export function readFragment(
  plaintext: Uint8Array,
): undefined | { header: FragmentHeader; share: Uint8Array } | { malformed: string } {
  if (plaintext[0] !== MARK) return undefined;
  const end = plaintext.indexOf(NEWLINE);
  if (end < 0 || end > HEADER_ROOM) return { malformed: "a fragment without its header" };
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(plaintext.subarray(1, end)));
  } catch {
    return { malformed: "a fragment header that is not JSON" };
  }
  const parsed = safeParse(fragmentHeader, json, "fragment header");
  if (!parsed.ok) return { malformed: parsed.error.message };
  if (parsed.value.index >= parsed.value.count) return { malformed: "a fragment numbered past its count" };
  return { header: parsed.value, share: plaintext.subarray(end + 1) };
}
