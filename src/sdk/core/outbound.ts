import {
  canonicalJson,
  eventPayload,
  extendChain,
  linkHash,
  newEventId,
  parse,
  toBase64Url,
  utf8,
  type AppendEventRequest,
  type EventBody,
  type EventPayload,
} from "../../protocol/index.js";
import { signAnchorProof } from "../../crypto/anchor-proof.js";
import { decodeKeyPackage } from "../../crypto/mls/caucus-group.js";
import { signRemovalProof } from "../../crypto/mls/credential.js";
import type { TranscriptEntry } from "../device-state.js";
import { ApiError, SdkError } from "../errors.js";
import type { DeviceCore } from "./device-core.js";
import { applyEvents } from "./caucus-log.js";
import { splitPayload, type OutgoingMessage } from "./fragments.js";
import { syncCaucus } from "./transcript-sync.js";

function postEvent(core: DeviceCore, caucusId: string, request: AppendEventRequest) {
  return core.session.withRetry(() =>
    core.api().call("appendEvent", { params: { caucusId }, body: request }),
  );
}

/** Sends that lost the race for the chain head to another sender, each followed by a sync. */
const MAX_SEND_ATTEMPTS = 10;

/**
 * Encrypts and posts one event into a caucus (the caller holds the lock). The payload carries
 * the chain head this device verified (invariant 5), and is kept in the outbox before it is
 * posted: MLS does not let a sender decrypt its own message.
 *
 * One round trip in steady state (issue 8): the event is posted with `after` = the head this
 * device verified, so the relay appends it exactly there or refuses (head_moved, stale_epoch);
 * then the device syncs and tries again. Nothing is ever encrypted onto a chain the device has
 * not verified. The ack's seq and hash are checked against the link this device computes itself;
 * only when they differ (or the ack is for an earlier copy of a retried event) does it sync to
 * learn where its event landed.
 */
export async function sendEvent(
  core: DeviceCore,
  caucusId: string,
  body: EventBody,
  // Random (v4): an id with a time in it would date the event at the relay (invariant 1).
  eventIdValue: string = crypto.randomUUID(),
  /**
   * The relay deletes the message's ciphertext after this hour (protocol/relay-deletion.ts): put
   * in the envelope for the relay and in the encrypted payload, where the other devices check it.
   * A large event's fragments all carry it, so the relay deletes every one of them.
   */
  deleteAt?: string,
): Promise<TranscriptEntry> {
  // Before anything is encrypted or saved: the relay would refuse an id that is not random.
  parse(newEventId, eventIdValue, "event id");
  const caucus = core.caucus(caucusId);
  const record = caucus.record;
  if (Object.hasOwn(record.outbox, eventIdValue)) {
    // This id was posted before and its answer lost: it may have landed. Learn that first, so
    // the entry this device keeps carries the payload the others decrypted, not a new one's.
    await syncCaucus(core, caucusId);
    const earlier = record.entries.findLast((x) => x.eventId === eventIdValue);
    if (earlier) return earlier;
  }
  for (let attempt = 1; ; attempt++) {
    // A commit of ours in flight, or a refusal last time: learn where the caucus stands first.
    if (attempt > 1 || record.pendingCommit || record.accessRefused) await syncCaucus(core, caucusId);
    caucus.usableGroup();
    const payload: EventPayload = parse(
      eventPayload,
      {
        v: 1,
        eventId: eventIdValue,
        caucusId,
        sentAt: new Date(core.now()).toISOString(),
        seen: record.head,
        ...(deleteAt !== undefined ? { deleteAt } : {}),
        body,
      },
      "event",
    );
    const messages = splitPayload(utf8(canonicalJson(payload)), eventIdValue);
    if (messages.length > 1) return sendFragments(core, caucusId, payload, messages, deleteAt);
    let applied;
    try {
      applied = await encryptAndPost(
        core,
        caucusId,
        messages[0]!,
        () => {
          record.outbox[eventIdValue] = payload;
        },
        deleteAt,
      );
    } catch (e) {
      if (isLostRace(e) && attempt < MAX_SEND_ATTEMPTS) continue;
      throw e;
    }
    if (applied) {
      const entry = record.entries.findLast((x) => x.eventId === eventIdValue);
      if (entry && !record.problem) {
        core.saveSoon(caucusId);
        return entry;
      }
    }
    return confirmSent(core, caucusId, eventIdValue);
  }
}

const isLostRace = (e: unknown) =>
  e instanceof ApiError && (e.code === "stale_epoch" || e.code === "head_moved");

/**
 * Encrypts one MLS message with the current group, keeps the next group (and whatever `keep`
 * adds) before posting it right after the head this device verified; true when the relay put it
 * there and it is applied, false when the device must sync to learn where it landed.
 */
async function encryptAndPost(
  core: DeviceCore,
  caucusId: string,
  message: OutgoingMessage,
  keep: () => void = () => {},
  deleteAt?: string,
): Promise<boolean> {
  const caucus = core.caucus(caucusId);
  const record = caucus.record;
  const { ciphertext, epoch, next } = await caucus.usableGroup().encrypt(message.plaintext);
  caucus.setGroup(next);
  keep();
  await core.save(caucusId);
  const after = record.head;
  const posted = {
    eventId: message.eventId,
    kind: "application" as const,
    epoch,
    ciphertext: toBase64Url(ciphertext),
    ...(deleteAt !== undefined ? { deleteAt } : {}),
  };
  const ack = await postEvent(core, caucusId, { ...posted, after });
  const landed = { ...posted, seq: ack.seq, hash: ack.hash, senderDeviceId: core.deviceId };
  if (ack.duplicate || record.head !== after || !extendChain(after, [{ ...landed, caucusId }]).ok)
    return false;
  await applyEvents(caucus, [landed], { deviceId: core.deviceId, now: core.now });
  return true;
}

/** After a send the relay acknowledged: syncs until its event is in the verified transcript. */
async function confirmSent(
  core: DeviceCore,
  caucusId: string,
  eventIdValue: string,
): Promise<TranscriptEntry> {
  const record = core.caucus(caucusId).record;
  await syncCaucus(core, caucusId);
  const entry = record.entries.findLast((x) => x.eventId === eventIdValue);
  if (!entry)
    throw new SdkError(
      "send_unconfirmed",
      "the server acknowledged the event but it is not in the transcript",
    );
  // A copy that the relay answered as a duplicate of one already applied leaves its payload
  // in the outbox: it will never arrive, so it goes.
  if (Object.hasOwn(record.outbox, eventIdValue)) {
    delete record.outbox[eventIdValue];
    core.saveSoon(caucusId);
  }
  return entry;
}

/**
 * Posts a large event as its fragments (core/fragments.ts), in order; each one that loses the
 * race for the chain head is encrypted again after a sync (other events may land between
 * fragments: members put the event together when its last fragment comes).
 */
async function sendFragments(
  core: DeviceCore,
  caucusId: string,
  payload: EventPayload,
  messages: readonly OutgoingMessage[],
  deleteAt?: string,
): Promise<TranscriptEntry> {
  const record = core.caucus(caucusId).record;
  record.outbox[payload.eventId] = payload;
  record.ownFragments = [...(record.ownFragments ?? []), ...messages.slice(0, -1).map((m) => m.eventId)];
  for (const message of messages)
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await syncCaucus(core, caucusId);
      try {
        if (!(await encryptAndPost(core, caucusId, message, undefined, deleteAt)))
          await syncCaucus(core, caucusId);
        break;
      } catch (e) {
        if (isLostRace(e) && attempt < MAX_SEND_ATTEMPTS) continue;
        throw e;
      }
    }
  const entry = record.entries.findLast((x) => x.eventId === payload.eventId);
  if (entry && !record.problem) {
    core.saveSoon(caucusId);
    return entry;
  }
  return confirmSent(core, caucusId, payload.eventId);
}

export interface MembershipChange {
  add?: { deviceId: string; keyPackage: Uint8Array }[];
  removeDeviceIds?: string[];
}

/**
 * Posts a commit made from the current group (the caller holds the lock); the next group is kept
 * until the relay accepts it. retry: make the commit again after losing the epoch to another
 * commit (default). Off when the other commit may already have made the same change (another of
 * the mediator's devices admitting the same pending device): the caller then looks again.
 */
export async function commitChange(
  core: DeviceCore,
  caucusId: string,
  change: MembershipChange,
  opts: { retry?: boolean } = {},
): Promise<void> {
  // Removing a device is always allowed, even from a caucus in trouble; adding one is not.
  const evenIfBroken = !change.add?.length && !!change.removeDeviceIds?.length;
  const caucus = core.caucus(caucusId);
  const record = caucus.record;
  for (let attempt = 0; ; attempt++) {
    await syncCaucus(core, caucusId);
    const group = caucus.usableGroup({ evenIfBroken });
    const pending = await group.commit({
      add: change.add?.map((a) => decodeKeyPackage(a.keyPackage)),
      removeDeviceIds: change.removeDeviceIds,
    });
    const eventIdValue = crypto.randomUUID();
    const ciphertext = toBase64Url(pending.commit);
    // Invariant 8: the devices this commit adds start right after it. We compute that link from
    // the head we verified and sign it with the mediator key; `after` makes the relay append the
    // commit exactly there (or refuse), so the signed anchor is the commit's real place.
    const after = { ...record.head };
    const anchorProof = change.add?.length
      ? signAnchorProof(core.identitySecret, {
          caucusId,
          epoch: pending.epoch + 1,
          seq: after.seq + 1,
          hash: linkHash(after.hash, {
            caucusId,
            seq: after.seq + 1,
            eventId: eventIdValue,
            senderDeviceId: core.deviceId,
            kind: "commit",
            epoch: pending.epoch,
            ciphertext,
          }),
        })
      : undefined;
    record.pendingCommit = {
      eventId: eventIdValue,
      next: toBase64Url(pending.next.serialize()),
      added: change.add?.map((a) => a.deviceId) ?? [],
      removed: change.removeDeviceIds ?? [],
    };
    await core.save();
    try {
      await postEvent(core, caucusId, {
        eventId: eventIdValue,
        kind: "commit",
        epoch: pending.epoch,
        ciphertext,
        ...(change.add?.length && pending.welcome
          ? {
              welcomes: change.add.map((a) => ({
                deviceId: a.deviceId,
                welcome: toBase64Url(pending.welcome!),
                ...(anchorProof ? { anchorProof } : {}),
              })),
              after,
            }
          : {}),
        ...(change.removeDeviceIds?.length
          ? {
              removes: change.removeDeviceIds,
              // The removed device believes it was removed only on the mediator's signed word.
              removalProofs: change.removeDeviceIds.map((deviceId) => ({
                deviceId,
                signature: signRemovalProof(core.identitySecret, { caucusId, deviceId }),
              })),
            }
          : {}),
      });
    } catch (e) {
      record.pendingCommit = undefined;
      await core.save();
      if (e instanceof ApiError && e.code === "epoch_conflict" && attempt < 5 && (opts.retry ?? true))
        continue;
      // A message landed between our sync and the commit: same epoch, so no one else made our
      // change; sync and commit again.
      if (e instanceof ApiError && e.code === "head_moved" && attempt < 5) continue;
      throw e;
    }
    await syncCaucus(core, caucusId);
    return;
  }
}
