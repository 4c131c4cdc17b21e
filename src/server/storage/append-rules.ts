import { createHash } from "node:crypto";
import { linkPreimage, maxDeleteAheadMs, parseDeleteAt } from "../../protocol/index.js";
import { ServerError, channelClosed, forbidden, notFound } from "../errors.js";
import type { AppendEventInput, CaucusRecord, MembershipRecord } from "./storage.js";

/**
 * The rules of Storage.appendEvent (listed on AppendEventInput), in their order, written once for
 * every backend. A backend reads what they ask for inside the transaction that then writes the
 * plan, with the caucus's transcript held against other writers (SQLite: its one write lock;
 * PostgreSQL: the caucus row's lock), so nothing read here can change before the plan is written.
 */
export interface AppendView {
  caucus: CaucusRecord | undefined;
  /** The sender's membership of the caucus. */
  sender: MembershipRecord | undefined;
  /** The event already stored in the caucus under input.eventId (asked only of a member). */
  existing(): { seq: number; hash: string; senderDeviceId: string } | undefined;
  /** A welcome's or removal's target in the caucus (asked only for commits). */
  membership(deviceId: string): MembershipRecord | undefined;
  /** Ciphertext bytes stored in the caucus and in its whole channel (asked only with a quota). */
  storedBytes(): { caucus: number; channel: number };
}

/** What to write: a duplicate writes nothing; a new event is the caucus's next link. */
export type AppendPlan =
  | { duplicate: true; seq: number; hash: string }
  | { duplicate: false; seq: number; hash: string; nextEpoch: number; ciphertext: Buffer };

export function planAppend(view: AppendView, input: AppendEventInput): AppendPlan {
  const { caucus, sender } = view;
  if (!caucus || !sender || !sender.joined || sender.removed) throw notFound();

  // Idempotency comes before the epoch rules: a retried commit must get its original answer,
  // not epoch_conflict against the epoch it itself advanced.
  const existing = view.existing();
  if (existing) {
    if (existing.senderDeviceId !== input.senderDeviceId) {
      throw new ServerError("event_id_conflict", "event id already used in this caucus");
    }
    return { duplicate: true, seq: existing.seq, hash: existing.hash };
  }
  // After idempotency: a retry of an event stored before the close still gets its answer.
  if (caucus.closed) throw channelClosed();

  if (input.deleteAt !== undefined) checkDeleteAt(input.kind, input.deleteAt, input.now);
  const ciphertext = Buffer.from(input.ciphertext, "base64url");
  if (input.quota && input.kind === "application")
    checkQuota(view.storedBytes(), ciphertext.length, input.quota);

  let nextEpoch = caucus.epoch;
  if (input.kind === "application") {
    if (input.welcomes.length > 0 || input.removes.length > 0) {
      throw new ServerError("invalid_request", "welcomes and removes are only allowed on commits");
    }
    if (input.epoch !== caucus.epoch) {
      throw new ServerError(
        "stale_epoch",
        `application message is for epoch ${input.epoch}; the caucus is at epoch ${caucus.epoch}`,
      );
    }
  } else {
    if (sender.role !== "mediator") throw forbidden("only mediator devices may commit");
    if (input.epoch !== caucus.epoch) {
      throw new ServerError(
        "epoch_conflict",
        `commit is for epoch ${input.epoch}; the caucus is at epoch ${caucus.epoch}`,
      );
    }
    nextEpoch = caucus.epoch + 1;
    checkRosterChanges(view, input);
  }

  if (input.after && (input.after.seq !== caucus.head.seq || input.after.hash !== caucus.head.hash)) {
    throw new ServerError("head_moved", `the chain head is no longer #${input.after.seq}`);
  }
  const seq = caucus.head.seq + 1;
  // protocol's linkHash, with node:crypto's SHA-256 (the hash chain's cost on the append path).
  const hash = sha256Hex(
    linkPreimage(
      caucus.head.hash,
      {
        caucusId: input.caucusId,
        seq,
        eventId: input.eventId,
        senderDeviceId: input.senderDeviceId,
        kind: input.kind,
        epoch: input.epoch,
        deleteAt: input.deleteAt,
      },
      sha256Hex(ciphertext),
    ),
  );
  return { duplicate: false, seq, hash, nextEpoch, ciphertext };
}

/** A new event's row of the events table, in its columns' order (both schemas have the same). */
export const eventRow = (input: AppendEventInput, plan: AppendPlan & { duplicate: false }) =>
  [
    input.caucusId,
    plan.seq,
    input.eventId,
    input.senderDeviceId,
    input.kind,
    input.epoch,
    plan.ciphertext,
    plan.hash,
    input.deleteAt === undefined ? null : Date.parse(input.deleteAt),
  ] as const;

/** Rule 8: a deletion time only on a message, in the future, within the bound. */
function checkDeleteAt(kind: AppendEventInput["kind"], deleteAt: string, now = Date.now()): void {
  if (kind !== "application")
    throw new ServerError("delete_at_invalid", "only an application message may carry a deletion time");
  const at = parseDeleteAt(deleteAt);
  if (at === undefined)
    throw new ServerError(
      "delete_at_invalid",
      "deleteAt must be an exact hour in UTC, written as 2026-11-30T18:00:00.000Z",
    );
  if (at <= now)
    throw new ServerError(
      "delete_at_invalid",
      `the deletion time ${deleteAt} has passed: the message would be deleted at once`,
    );
  if (at > now + maxDeleteAheadMs)
    throw new ServerError("delete_at_invalid", "a deletion time is at most ten years ahead");
}

/** Every device a commit welcomes or removes: what AppendView.membership will be asked about. */
export const rosterTargets = (input: AppendEventInput): string[] => [
  ...input.welcomes.map((w) => w.deviceId),
  ...input.removes,
];

const sha256Hex = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** Rule 7, for an application message (or an attachment blob) of `size` bytes. */
export function checkQuota(
  stored: { caucus: number; channel: number },
  size: number,
  quota: NonNullable<AppendEventInput["quota"]>,
): void {
  const over = (held: number, max: number): boolean => held + size > max;
  const mib = (n: number): string => (n < 1024 * 1024 ? `${n} bytes` : `${(n / 1024 / 1024).toFixed(1)} MiB`);
  if (over(stored.caucus, quota.caucusBytes))
    throw new ServerError(
      "quota_exceeded",
      `this caucus holds ${mib(stored.caucus)} of ciphertext; the relay allows a caucus ${mib(quota.caucusBytes)}`,
    );
  if (over(stored.channel, quota.channelBytes))
    throw new ServerError(
      "quota_exceeded",
      `this channel holds ${mib(stored.channel)} of ciphertext; the relay allows a channel ${mib(quota.channelBytes)}`,
    );
}

/** Validates every welcome and removal before anything is written. */
function checkRosterChanges(view: AppendView, input: AppendEventInput): void {
  const seen = new Set<string>();
  for (const deviceId of rosterTargets(input)) {
    if (seen.has(deviceId)) {
      throw new ServerError("invalid_request", `device ${deviceId} appears twice in this commit`);
    }
    seen.add(deviceId);
  }
  for (const w of input.welcomes) {
    const m = view.membership(w.deviceId);
    if (!m || m.joined || m.removed) {
      throw new ServerError(
        "invalid_request",
        `welcome for ${w.deviceId}: not a device waiting to join this caucus`,
      );
    }
  }
  for (const p of input.removalProofs ?? []) {
    if (!input.removes.includes(p.deviceId))
      throw new ServerError(
        "invalid_request",
        `removal proof for ${p.deviceId}: this commit does not remove it`,
      );
  }
  for (const deviceId of input.removes) {
    const m = view.membership(deviceId);
    // A pending mediator device is in no MLS group yet: it leaves through
    // DELETE /v1/mediator-devices instead.
    if (!m || m.removed || (m.role === "mediator" && !m.joined)) {
      throw new ServerError("invalid_request", `remove ${deviceId}: not a current member of this caucus`);
    }
    // MLS forbids a commit removing its own committer; this also means the sender, a mediator
    // device, always stays, so a caucus can never lose its last mediator device.
    if (deviceId === input.senderDeviceId) {
      throw new ServerError("invalid_request", "a device cannot remove itself");
    }
  }
}
