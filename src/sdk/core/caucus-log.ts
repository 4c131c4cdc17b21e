import {
  eventPayload,
  extendChain,
  fromBase64Url,
  fromUtf8,
  mediatorOnlyTypes,
  partyOnlyTypes,
  safeParse,
  isTombstone,
  toBase64Url,
  type EventPayload,
  type LiveEvent,
  type StoredEvent,
  type TranscriptProblem,
} from "../../protocol/index.js";
import { CaucusGroup, GroupError } from "../../crypto/mls/caucus-group.js";
import type { CaucusRecord, TranscriptEntry } from "../device-state.js";
import type { Caucus } from "./caucus.js";
import { readFragment, type FragmentHeader } from "./fragments.js";

/**
 * Applies one page of server events to a caucus record, in order: chain check first (nothing
 * past a gap or an altered link is shown), then MLS decryption, then the payload checks that tie
 * the encrypted content to its envelope. The first problem stops the caucus and is kept.
 */
export async function applyEvents(
  caucus: Caucus,
  events: readonly StoredEvent[],
  self: { deviceId: string; now?: () => number },
): Promise<{ added: TranscriptEntry[]; problem?: TranscriptProblem }> {
  const record = caucus.record;
  // When this device took the page in: shown next to the sender's own sentAt.
  const receivedAt = new Date((self.now ?? Date.now)()).toISOString();
  const base = (
    e: StoredEvent,
    role: "mediator" | "party",
    membership?: { added: string[]; removed: string[] },
  ) => ({ ...baseEntry(e, role, membership), receivedAt }) satisfies TranscriptEntry;
  const added: TranscriptEntry[] = [];
  if (record.problem) return { added, problem: record.problem };
  let group = caucus.group();
  const fail = (problem: TranscriptProblem) => {
    if (group) caucus.setGroup(group);
    record.problem = problem;
    return { added, problem };
  };
  // A member's unreadable, malformed or unauthorised message is its sender's doing, not the
  // relay's: it is kept in the transcript as skipped, attributed to its sender and shown as a
  // warning, and the caucus goes on (issue 7, item 5). Only what only the relay could cause
  // (a gap, an altered hash, a fork) stops the caucus.
  const skip = (e: StoredEvent, reason: SkipReason, detail: string): TranscriptEntry => ({
    ...base(e, group ? ownRole(group, e.senderDeviceId) : "party"),
    skipped: { reason, detail },
  });
  for (const e of events) {
    const link = extendChain(record.head, [{ ...e, caucusId: record.caucusId }]);
    if (!link.ok) return fail(link.problem);
    if (!group)
      return fail({ kind: "undecryptable", seq: e.seq, eventId: e.eventId, detail: "no group state" });
    let entry: TranscriptEntry;
    if (isTombstone(e)) {
      // The relay never deletes a commit (the group needs it); one that did could stop us here.
      if (e.kind === "commit")
        return fail({
          kind: "undecryptable",
          seq: e.seq,
          eventId: e.eventId,
          detail: "the relay deleted a commit this device needs",
        });
      // Deleted before this device read it: the link verified, there is nothing to decrypt.
      entry = { ...base(e, ownRole(group, e.senderDeviceId)), burnt: { reason: "deleted" } };
      delete record.outbox[e.eventId];
      forgetOwnFragment(record, e.eventId);
    } else if (e.kind === "commit") {
      if (record.pendingCommit?.eventId === e.eventId && e.senderDeviceId === self.deviceId) {
        group = CaucusGroup.restore(group.trust, fromBase64Url(record.pendingCommit.next));
        entry = base(e, "mediator", {
          added: record.pendingCommit.added,
          removed: record.pendingCommit.removed,
        });
        record.pendingCommit = undefined;
      } else {
        const before = new Set(group.roster().map((m) => m.credential?.deviceId));
        let r;
        try {
          r = await group.process(fromBase64Url(e.ciphertext));
        } catch (err) {
          return fail({
            kind: "undecryptable",
            seq: e.seq,
            eventId: e.eventId,
            detail: (err as Error).message,
          });
        }
        if (r.incoming.kind !== "commit" || r.incoming.committer.deviceId !== e.senderDeviceId)
          return fail({ kind: "fork", seq: e.seq, detail: "commit sender does not match its envelope" });
        if (r.incoming.removedSelf) {
          caucus.markRemoved();
          added.push(base(e, "mediator", { added: [], removed: [self.deviceId] }));
          record.entries.push(added[added.length - 1]!);
          record.head = { seq: e.seq, hash: e.hash };
          return { added };
        }
        group = r.next;
        const after = new Set(group.roster().map((m) => m.credential?.deviceId));
        entry = base(e, "mediator", {
          added: [...after].filter((d): d is string => !!d && !before.has(d)),
          removed: [...before].filter((d): d is string => !!d && !after.has(d)),
        });
      }
    } else {
      const own = e.senderDeviceId === self.deviceId ? record.outbox[e.eventId] : undefined;
      if (own) {
        // This device put the deletion time in the envelope itself: another one is the relay's.
        if (own.deleteAt !== e.deleteAt)
          return fail({
            kind: "fork",
            seq: e.seq,
            detail: `the relay shows deletion time ${e.deleteAt ?? "none"} on a message this device sent with ${own.deleteAt ?? "none"}`,
          });
        entry = { ...base(e, ownRole(group, self.deviceId)), payload: own };
        delete record.outbox[e.eventId];
      } else if (e.senderDeviceId === self.deviceId && forgetOwnFragment(record, e.eventId)) {
        // A fragment of our own large event: its payload waits in the outbox under the last one.
        record.head = { seq: e.seq, hash: e.hash };
        continue;
      } else {
        const read = await readApplication(group, e, record);
        if ("next" in read) group = read.next;
        if ("fragment" in read) {
          // Not an event yet: the chain moves on, the transcript shows the event when it is whole.
          record.head = { seq: e.seq, hash: e.hash };
          continue;
        }
        if ("skipped" in read) entry = skip(e, read.skipped, read.detail);
        else if ("problem" in read) return fail(read.problem);
        else {
          // Invariant 5: the sender's view of the chain must be ours too, or the server forked us.
          const seenProblem = checkSeen(record, read.payload.seen, e.seq);
          if (seenProblem) return fail(seenProblem);
          entry = { ...base(e, read.role), payload: read.payload };
        }
      }
    }
    record.entries.push(entry);
    added.push(entry);
    record.head = { seq: e.seq, hash: e.hash };
  }
  if (group !== caucus.group()) caucus.setGroup(group);
  return { added };
}

type SkipReason = NonNullable<TranscriptEntry["skipped"]>["reason"];

/** Whether `id` was one of this device's own fragments (and forgets it). */
function forgetOwnFragment(record: CaucusRecord, id: string): boolean {
  const own = record.ownFragments;
  if (!own?.includes(id)) return false;
  const rest = own.filter((x) => x !== id);
  if (rest.length) record.ownFragments = rest;
  else delete record.ownFragments;
  return true;
}

/**
 * Takes one decrypted fragment (core/fragments.ts): kept until its event's last fragment comes,
 * which gives the whole payload. Fragments come in order from one sender, the last one under the
 * event's id; anything else is its sender's mistake and is skipped (the event with it).
 */
function takeFragment(
  record: CaucusRecord,
  e: LiveEvent,
  header: FragmentHeader,
  share: Uint8Array,
): { fragment: true } | { whole: Uint8Array } | { malformed: string } {
  const last = header.index === header.count - 1;
  if ((e.eventId === header.of) !== last) return { malformed: "a fragment under another event's id" };
  const partials = (record.partials ??= {});
  const held = Object.hasOwn(partials, header.of) ? partials[header.of] : undefined;
  if (held && held.senderDeviceId !== e.senderDeviceId)
    return { malformed: "a fragment of another member's event" };
  if (header.index === 0)
    partials[header.of] = { senderDeviceId: e.senderDeviceId, count: header.count, shares: [] };
  const partial = partials[header.of];
  if (!partial || partial.count !== header.count || partial.shares.length !== header.index) {
    delete partials[header.of];
    return { malformed: "a fragment out of order" };
  }
  if (!last) {
    partial.shares.push(toBase64Url(share));
    return { fragment: true };
  }
  delete partials[header.of];
  if (!Object.keys(partials).length) delete record.partials;
  const shares = [...partial.shares.map(fromBase64Url), share];
  const whole = new Uint8Array(shares.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of shares) {
    whole.set(x, at);
    at += x.length;
  }
  return { whole };
}

/**
 * Decrypts and checks one application message. A message its sender got wrong (unreadable, not
 * our payload, a body its role may not send, a commit posing as a message, fields that disagree
 * with the envelope the sender chose) is skipped; one whose MLS-authenticated sender is not the
 * envelope's sender (which only the relay sets) is a fork.
 */
async function readApplication(
  group: CaucusGroup,
  e: LiveEvent,
  record: CaucusRecord,
): Promise<
  | { skipped: SkipReason; detail: string; next?: CaucusGroup }
  | { problem: TranscriptProblem }
  | { fragment: true; next: CaucusGroup }
  | { payload: EventPayload; role: "mediator" | "party"; next: CaucusGroup }
> {
  const caucusId = record.caucusId;
  let r;
  try {
    r = await group.process(fromBase64Url(e.ciphertext));
  } catch (err) {
    return { skipped: "unreadable", detail: err instanceof GroupError ? err.message : String(err) };
  }
  // A commit must travel as a commit (the relay orders those); as a message it changes nothing.
  if (r.incoming.kind !== "application")
    return { skipped: "unauthorised", detail: "a commit sent as an application message" };
  const sender = r.incoming.sender;
  if (sender.deviceId !== e.senderDeviceId)
    return {
      problem: { kind: "fork", seq: e.seq, detail: "the encrypted sender does not match its envelope" },
    };
  let plaintext = r.incoming.plaintext;
  const fragment = readFragment(plaintext);
  if (fragment) {
    const taken =
      "malformed" in fragment ? fragment : takeFragment(record, e, fragment.header, fragment.share);
    if ("malformed" in taken) return { skipped: "malformed", detail: taken.malformed, next: r.next };
    if ("fragment" in taken) return { fragment: true, next: r.next };
    plaintext = taken.whole;
  }
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(plaintext));
  } catch {
    return { skipped: "malformed", detail: "payload is not JSON", next: r.next };
  }
  const parsed = safeParse(eventPayload, json, "event payload");
  if (!parsed.ok) return { skipped: "malformed", detail: parsed.error.message, next: r.next };
  const p = parsed.value;
  if (p.eventId !== e.eventId || p.caucusId !== caucusId)
    return {
      skipped: "malformed",
      detail: "the payload names another event or caucus than its envelope",
      next: r.next,
    };
  // The deletion time the relay acts on must be the one the sender signed: the relay, which chose
  // neither, could otherwise make a message look as if its sender wanted it gone sooner. Other
  // devices cannot tell a relay that changed it from a sender that wrote two (that one is skipped,
  // as any field that disagrees with its envelope); the sender's own device can (applyEvents).
  if (p.deleteAt !== e.deleteAt)
    return {
      skipped: "malformed",
      detail: `the relay's deletion time (${e.deleteAt ?? "none"}) is not the one its sender signed (${p.deleteAt ?? "none"})`,
      next: r.next,
    };
  if (sender.role === "party" && mediatorOnlyTypes.includes(p.body.type))
    return { skipped: "unauthorised", detail: `a party device sent a ${p.body.type}`, next: r.next };
  if (sender.role === "mediator" && partyOnlyTypes.includes(p.body.type))
    return { skipped: "unauthorised", detail: `a mediator device sent a ${p.body.type}`, next: r.next };
  return { payload: p, role: sender.role, next: r.next };
}

function checkSeen(
  record: CaucusRecord,
  seen: { seq: number; hash: string },
  seq: number,
): TranscriptProblem | undefined {
  if (seen.seq >= seq)
    return { kind: "fork", seq, detail: `sender claims to have seen #${seen.seq} before #${seq} existed` };
  if (seen.seq < record.anchor.seq) return undefined; // before our join point: not ours to check
  const ours =
    seen.seq === record.anchor.seq
      ? record.anchor.hash
      : record.entries.find((x) => x.seq === seen.seq)?.hash;
  if (ours === undefined) return undefined;
  if (ours !== seen.hash)
    return {
      kind: "fork",
      seq,
      detail: `the sender saw a different event #${seen.seq} than this device did (the server showed different histories)`,
    };
  return undefined;
}

function ownRole(group: CaucusGroup, deviceId: string): "mediator" | "party" {
  return group.roster().find((m) => m.credential?.deviceId === deviceId)?.credential?.role ?? "party";
}

function baseEntry(
  e: StoredEvent,
  senderRole: "mediator" | "party",
  membership?: { added: string[]; removed: string[] },
): TranscriptEntry {
  return {
    seq: e.seq,
    eventId: e.eventId,
    hash: e.hash,
    senderDeviceId: e.senderDeviceId,
    senderRole,
    kind: e.kind,
    epoch: e.epoch,
    ...(membership ? { membership } : {}),
  };
}
