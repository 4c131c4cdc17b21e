import { fromBase64Url, type EventBody } from "../../protocol/index.js";
import { signChannelProof, verifyCredential } from "../../crypto/mls/credential.js";
import { decodeKeyPackage, keyPackageCredential } from "../../crypto/mls/caucus-group.js";
import type { DeviceCore } from "../core/device-core.js";
import { commitChange, sendEvent } from "../core/outbound.js";
import { syncCaucus } from "../core/transcript-sync.js";
import { cachedVerificationCode } from "../core/caucus.js";
import type { CaucusRecord, DeviceState } from "../device-state.js";
import { ApiError, SdkError } from "../errors.js";

/**
 * A handler's device that redeemed an invite made with confirmation (the default) and waits for
 * the mediator: compare `verificationCode` with the handler over a channel you trust, then
 * `admit`. Only the mediator device that made the invite lists it (it alone holds the invite).
 */
export interface PendingAdmission {
  readonly caucusId: string;
  readonly partyName: string;
  readonly deviceId: string;
  readonly inviteId: string;
  readonly handlerKey: string;
  /** The same 60 digits the handler's device shows (see crypto/verification-code.ts). */
  readonly verificationCode: string;
  readonly expiresAt: string;
}

const DAY_MS = 24 * 60 * 60_000;

type InviteRecord = DeviceState["invites"][string];

/** When the invite stops counting; an invite stored before invites expired gets a day. */
export function inviteExpiry(invite: InviteRecord): number {
  return invite.expiresAt ? Date.parse(invite.expiresAt) : Date.parse(invite.createdAt) + DAY_MS;
}

/** Awaiting confirmation, per device core and caucus; replaced (never mutated) on change. */
const awaiting = new WeakMap<DeviceCore, Map<string, readonly PendingAdmission[]>>();

/** Every pending admission this device knows of, in caucus order: the same array until it changes. */
const listed = new WeakMap<
  DeviceCore,
  { parts: readonly (readonly PendingAdmission[])[]; all: readonly PendingAdmission[] }
>();
export function pendingAdmissions(core: DeviceCore): readonly PendingAdmission[] {
  const byCaucus = awaiting.get(core);
  const parts = core.caucusIds().flatMap((id) => {
    const p = byCaucus?.get(id);
    return p?.length ? [p] : [];
  });
  const cached = listed.get(core);
  if (cached && cached.parts.length === parts.length && cached.parts.every((p, i) => p === parts[i]))
    return cached.all;
  const all = Object.freeze(parts.flat());
  listed.set(core, { parts, all });
  return all;
}

function setAwaiting(core: DeviceCore, caucusId: string, list: PendingAdmission[]): void {
  let byCaucus = awaiting.get(core);
  if (!byCaucus) awaiting.set(core, (byCaucus = new Map<string, readonly PendingAdmission[]>()));
  const before = byCaucus.get(caucusId) ?? [];
  const same =
    before.length === list.length &&
    before.every((p, i) => p.deviceId === list[i]!.deviceId && p.inviteId === list[i]!.inviteId);
  if (!same) byCaucus.set(caucusId, Object.freeze(list.map((p) => Object.freeze(p))));
}

/**
 * Admits every device waiting in this device's caucuses that it can certify and may admit (the
 * caller holds the lock):
 *
 * - a handler's device whose key package carries a credential chained to an invite this device
 *   made for that caucus, for the device id that redeemed it, while the invite is neither revoked
 *   nor expired (a redemption first seen after the expiry is never admitted, whatever the relay
 *   says) — and only if the invite opted out of confirmation or the mediator confirmed this very
 *   device and handler key (`admit`). The others are listed as pending admissions;
 * - another device of this mediator whose credential our identity key signed for its own device
 *   id (staff are certified by the mediator's own key: no codes to compare).
 */
export async function admitPending(core: DeviceCore): Promise<void> {
  for (const caucusId of core.caucusIds()) await withCommitRetry(() => admitInto(core, caucusId));
}

/**
 * The mediator compared verification codes with the handler of `deviceId` and confirms it: the
 * confirmation is kept in this device's state (so a crash or a lost commit race cannot lose it),
 * then the device is admitted by commit (the caller holds the lock).
 */
export async function admit(core: DeviceCore, caucusId: string, deviceId: string): Promise<void> {
  core.caucus(caucusId);
  const admitted = () =>
    Object.values(core.state.invites).some((i) => i.caucusId === caucusId && i.admittedDeviceId === deviceId);
  // Admitted before is not waiting now: the caller is told, not silently satisfied.
  const waiting = !admitted();
  if (waiting) await withCommitRetry(() => admitInto(core, caucusId, deviceId));
  if (!waiting || !admitted())
    throw new SdkError(
      "admission_unknown",
      `no device ${deviceId} is waiting for admission into this caucus on this device`,
    );
}

async function withCommitRetry(run: () => Promise<void>): Promise<void> {
  // Another of the mediator's devices may commit at the same moment, even admitting the same
  // device: after losing the epoch, look again (the roster may already hold it).
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.code === "epoch_conflict" && attempt >= 3) return; // busy: the next sync tries again
      if ((e.code === "epoch_conflict" || e.code === "invalid_request") && attempt < 3) continue;
      throw e;
    }
  }
}

async function admitInto(core: DeviceCore, caucusId: string, confirmDeviceId?: string): Promise<void> {
  const caucus = core.caucus(caucusId);
  const record = caucus.record;
  // A caucus whose transcript failed verification admits nobody until that is resolved.
  if (record.removed || !record.group || record.problem) return setAwaiting(core, caucusId, []);
  let pending;
  try {
    ({ pending } = await core.session.withRetry(() =>
      core.api().call("listPending", { params: { caucusId } }),
    ));
  } catch (e) {
    // Another of the mediator's devices removed this one: the sync of the caucus records it.
    if (e instanceof ApiError && e.code === "not_found") return setAwaiting(core, caucusId, []);
    throw e;
  }
  if (!pending.length) return setAwaiting(core, caucusId, []);
  // Until this device knows what the caucus is, it leaves admitting to the device that does.
  if (!record.topic || !record.partyName) return;
  await syncCaucus(core, caucusId);
  const group = caucus.group();
  if (record.removed || !group || record.problem) return setAwaiting(core, caucusId, []);
  const trust = { mediatorKey: core.state.mediatorKey, caucusId };
  const members = new Set(group.roster().map((m) => m.credential?.deviceId));
  const refused = new Set(core.state.removedMediatorDevices ?? []);
  const admit: { deviceId: string; keyPackage: Uint8Array; inviteId?: string }[] = [];
  const waiting: PendingAdmission[] = [];
  const now = Date.now();
  let changed = false;
  for (const p of pending) {
    if (members.has(p.deviceId)) continue;
    const bytes = fromBase64Url(p.keyPackage);
    try {
      const kp = decodeKeyPackage(bytes);
      const cred = keyPackageCredential(kp);
      if (!("inviteId" in p)) {
        if (
          !refused.has(p.deviceId) &&
          cred?.role === "mediator" &&
          cred.deviceId === p.deviceId &&
          cred.mediatorKey === core.state.mediatorKey &&
          verifyCredential(cred, kp.leafNode.signaturePublicKey, trust)
        )
          admit.push({ deviceId: p.deviceId, keyPackage: bytes });
        continue;
      }
      const invite = Object.hasOwn(core.state.invites, p.inviteId)
        ? core.state.invites[p.inviteId]
        : undefined;
      if (
        !invite ||
        invite.revoked ||
        invite.caucusId !== caucusId ||
        invite.admittedDeviceId ||
        cred?.role !== "party" ||
        cred.deviceId !== p.deviceId ||
        cred.inviteId !== p.inviteId ||
        cred.inviteKey !== invite.inviteKey ||
        !verifyCredential(cred, kp.leafNode.signaturePublicKey, trust)
      )
        continue;
      const redeemer = { deviceId: p.deviceId, handlerKey: cred.handlerKey };
      const same = (x: typeof redeemer | undefined) =>
        x?.deviceId === redeemer.deviceId && x.handlerKey === redeemer.handlerKey;
      // One redemption per invite, seen by this device before the invite expired.
      if (invite.seen) {
        if (!same(invite.seen)) continue;
      } else {
        if (now >= inviteExpiry(invite)) continue;
        invite.seen = redeemer;
        changed = true;
      }
      if (confirmDeviceId === p.deviceId && !same(invite.confirmed)) {
        invite.confirmed = redeemer;
        changed = true;
      }
      if (invite.confirm === false || same(invite.confirmed))
        admit.push({ deviceId: p.deviceId, keyPackage: bytes, inviteId: p.inviteId });
      else
        waiting.push({
          caucusId,
          partyName: record.partyName,
          deviceId: p.deviceId,
          inviteId: p.inviteId,
          handlerKey: cred.handlerKey,
          verificationCode: cachedVerificationCode(core.state.mediatorKey, cred.handlerKey),
          expiresAt: new Date(inviteExpiry(invite)).toISOString(),
        });
    } catch {
      continue;
    }
  }
  setAwaiting(core, caucusId, waiting);
  if (changed) await core.save();
  if (!admit.length) return;
  await commitChange(core, caucusId, { add: admit }, { retry: false });
  for (const a of admit) if (a.inviteId) core.state.invites[a.inviteId]!.admittedDeviceId = a.deviceId;
  await core.save();
  // New members cannot read what came before them: tell them what this caucus is.
  await sendEvent(core, caucusId, channelInfo(core, record));
}

/** What a caucus is about, signed so the mediator's other devices can place it in its channel. */
function channelInfo(core: DeviceCore, record: CaucusRecord): EventBody {
  const topic = record.topic ?? "";
  const partyName = record.partyName ?? "";
  return {
    type: "channel_info",
    topic,
    partyName,
    mediatorName: core.state.name,
    ...(record.channelId
      ? {
          channelProof: signChannelProof(core.identitySecret, {
            caucusId: record.caucusId,
            channelId: record.channelId,
            topic,
            partyName,
          }),
        }
      : {}),
  };
}
