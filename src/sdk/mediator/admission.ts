import { fromBase64Url, type EventBody } from "../../protocol/index.js";
import { signChannelProof, verifyCredential } from "../../crypto/mls/credential.js";
import { decodeKeyPackage, keyPackageCredential } from "../../crypto/mls/caucus-group.js";
import type { DeviceCore } from "../core/device-core.js";
import { commitChange, sendEvent } from "../core/outbound.js";
import { syncCaucus } from "../core/transcript-sync.js";
import type { CaucusRecord } from "../device-state.js";
import { ApiError } from "../errors.js";

/**
 * Admits every device waiting in this device's caucuses that it can certify: a handler's device
 * whose key package carries a credential chained to an invite we issued for that caucus, for the
 * device id that redeemed it; or another device of this mediator whose credential our identity
 * key signed for its own device id (the caller holds the lock).
 */
export async function admitPending(core: DeviceCore): Promise<void> {
  for (const caucusId of core.caucusIds()) {
    // Another of the mediator's devices may commit at the same moment, even admitting the same
    // device: after losing the epoch, look again (the roster may already hold it).
    for (let attempt = 1; ; attempt++) {
      try {
        await admitInto(core, caucusId);
        break;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.code === "epoch_conflict" && attempt >= 3) break; // busy: the next sync tries again
        if ((e.code === "epoch_conflict" || e.code === "invalid_request") && attempt < 3) continue;
        throw e;
      }
    }
  }
}

async function admitInto(core: DeviceCore, caucusId: string): Promise<void> {
  const caucus = core.caucus(caucusId);
  const record = caucus.record;
  // A caucus whose transcript failed verification admits nobody until that is resolved.
  if (record.removed || !record.group || record.problem) return;
  let pending;
  try {
    ({ pending } = await core.session.withRetry(() =>
      core.api().call("listPending", { params: { caucusId } }),
    ));
  } catch (e) {
    // Another of the mediator's devices removed this one: the sync of the caucus records it.
    if (e instanceof ApiError && e.code === "not_found") return;
    throw e;
  }
  if (!pending.length) return;
  // Until this device knows what the caucus is, it leaves admitting to the device that does.
  if (!record.topic || !record.partyName) return;
  await syncCaucus(core, caucusId);
  const group = caucus.group();
  if (record.removed || !group || record.problem) return;
  const trust = { mediatorKey: core.state.mediatorKey, caucusId };
  const members = new Set(group.roster().map((m) => m.credential?.deviceId));
  const refused = new Set(core.state.removedMediatorDevices ?? []);
  const admit: { deviceId: string; keyPackage: Uint8Array; inviteId?: string }[] = [];
  for (const p of pending) {
    if (members.has(p.deviceId)) continue;
    const bytes = fromBase64Url(p.keyPackage);
    let ok = false;
    try {
      const kp = decodeKeyPackage(bytes);
      const cred = keyPackageCredential(kp);
      if ("inviteId" in p) {
        const invite = Object.hasOwn(core.state.invites, p.inviteId)
          ? core.state.invites[p.inviteId]
          : undefined;
        ok =
          !!invite &&
          invite.caucusId === caucusId &&
          !invite.admittedDeviceId &&
          cred?.role === "party" &&
          cred.deviceId === p.deviceId &&
          cred.inviteId === p.inviteId &&
          cred.inviteKey === invite.inviteKey &&
          verifyCredential(cred, kp.leafNode.signaturePublicKey, trust);
      } else {
        ok =
          !refused.has(p.deviceId) &&
          cred?.role === "mediator" &&
          cred.deviceId === p.deviceId &&
          cred.mediatorKey === core.state.mediatorKey &&
          verifyCredential(cred, kp.leafNode.signaturePublicKey, trust);
      }
    } catch {
      ok = false;
    }
    if (ok)
      admit.push({
        deviceId: p.deviceId,
        keyPackage: bytes,
        ...("inviteId" in p ? { inviteId: p.inviteId } : {}),
      });
  }
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
