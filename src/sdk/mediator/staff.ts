import { toBase64Url } from "../../protocol/index.js";
import { verifyChannelProof } from "../../crypto/mls/credential.js";
import { GroupError } from "../../crypto/mls/caucus-group.js";
import { generateIdentityKey } from "../../crypto/identity.js";
import type { DeviceCore } from "../core/device-core.js";
import { storedJoinKeys } from "../core/device-core.js";
import { commitChange } from "../core/outbound.js";
import { syncAll } from "../core/transcript-sync.js";
import { ApiError, SdkError } from "../errors.js";
import { encodeLinkCode } from "../link-code.js";
import { mediatorDeviceKeys } from "./channels.js";

/**
 * The mediator's staff: several devices of one mediator share its identity key (what parties
 * pin); each has its own device id, login key and MLS keys, and is a member of every caucus of
 * the mediator's channels from the commit that added it on.
 */

/** One of the mediator's devices, as the MLS rosters of this device's caucuses show it. */
export interface MediatorDeviceView {
  readonly deviceId: string;
  /** This device. */
  readonly thisDevice: boolean;
  /** The caucuses it is a member of (among this device's), with its MLS signature key in each. */
  readonly caucuses: readonly { caucusId: string; mlsKey: string }[];
}

/** A one-time code that makes a new device of this mediator (the caller holds the lock). */
export async function link(core: DeviceCore): Promise<{ code: string; linkId: string }> {
  const linkKey = generateIdentityKey();
  const linkId = crypto.randomUUID();
  await core.session.withRetry(() =>
    core.api().call("createMediatorLink", {
      body: { linkId, linkPublicKey: toBase64Url(linkKey.publicKey) },
    }),
  );
  const code = encodeLinkCode({
    v: 1,
    server: core.state.serverUrl,
    linkId,
    linkSecret: toBase64Url(linkKey.secretKey),
    mediatorSecret: core.state.identityKey.secret,
    mediatorKey: core.state.mediatorKey,
    mediatorName: core.state.name,
  });
  return { code, linkId };
}

export function isPlaced(core: DeviceCore, caucusId: string): boolean {
  return Object.values(core.state.channels).some((c) => c.caucuses.some((x) => x.caucusId === caucusId));
}

/**
 * Caucuses this device may join but is not in yet (it was linked, or another of the mediator's
 * devices opened them): hands in a key package certified with the mediator's identity key, then
 * joins from the Welcome once another device has added it.
 */
export async function joinWaitingCaucuses(core: DeviceCore): Promise<void> {
  const { memberships } = await core.me();
  const waiting = (core.state.mediatorJoinKeys ??= {});
  const listed = new Set(memberships.map((m) => m.caucusId));
  for (const m of memberships) {
    if (core.hasCaucus(m.caucusId)) continue;
    let keys = Object.hasOwn(waiting, m.caucusId) ? waiting[m.caucusId] : undefined;
    if (!m.joined) {
      if (!keys) {
        keys = waiting[m.caucusId] = { ...storedJoinKeys(await mediatorDeviceKeys(core)), uploaded: false };
        await core.save();
      }
      if (!keys.uploaded) {
        const keyPackage = keys.keyPackage;
        await core.session.withRetry(() =>
          core.api().call("uploadKeyPackage", { params: { caucusId: m.caucusId }, body: { keyPackage } }),
        );
        keys.uploaded = true;
        await core.save();
      }
      continue;
    }
    // Joined on the relay: with our keys, the Welcome that added us is waiting.
    if (!keys) continue;
    try {
      const joined = await core.joinFromWelcome(m.caucusId, keys, {
        ...(m.channelId ? { channelId: m.channelId } : {}),
        mediatorName: core.state.name,
      });
      if (!joined) continue;
    } catch (e) {
      // A Welcome we cannot trust (or read) joins nothing; the other caucuses go on.
      if (e instanceof GroupError) continue;
      throw e;
    }
    delete waiting[m.caucusId];
    await core.save();
  }
  // Memberships the relay dropped (this device was removed before it joined).
  for (const caucusId of Object.keys(waiting)) if (!listed.has(caucusId)) delete waiting[caucusId];
}

/**
 * Caucuses this device joined after they were made learn their topic and party from a
 * channel_info that another of the mediator's devices posts, and are placed in their channel only
 * if its proof (by the mediator's identity key) names the channel the relay says they are in.
 */
export async function placeJoinedCaucuses(core: DeviceCore): Promise<void> {
  const placedNow: string[] = [];
  for (const { record } of core.caucuses()) {
    if (!record.channelId || isPlaced(core, record.caucusId)) continue;
    for (const e of record.entries) {
      const b = e.payload?.body;
      if (e.senderRole !== "mediator" || b?.type !== "channel_info" || !b.channelProof) continue;
      const placement = {
        caucusId: record.caucusId,
        channelId: record.channelId,
        topic: b.topic,
        partyName: b.partyName,
      };
      if (!verifyChannelProof(core.state.mediatorKey, placement, b.channelProof)) continue;
      record.topic = b.topic;
      record.partyName = b.partyName;
      record.mediatorName = b.mediatorName;
    }
    if (!record.topic || !record.partyName) continue;
    const channel = (core.state.channels[record.channelId] ??= {
      channelId: record.channelId,
      topic: record.topic,
      caucuses: [],
    });
    channel.caucuses.push({ caucusId: record.caucusId, partyName: record.partyName });
    placedNow.push(record.channelId);
  }
  if (!placedNow.length) return;
  // The relay's order of caucuses (oldest first) is what the device that made them shows too.
  const { channels } = await core.session.withRetry(() => core.api().call("listChannels"));
  for (const channelId of new Set(placedNow)) {
    const order = channels.find((c) => c.channelId === channelId)?.caucusIds ?? [];
    const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
    core.state.channels[channelId]!.caucuses.sort((a, b) => rank(a.caucusId) - rank(b.caucusId));
  }
  await core.save();
}

/**
 * This mediator's devices as the MLS rosters of this device's caucuses list them — the only
 * source a removed or forged device cannot talk its way into — and this device first.
 */
export function mediatorDevices(core: DeviceCore): MediatorDeviceView[] {
  const byId = new Map<
    string,
    { deviceId: string; thisDevice: boolean; caucuses: { caucusId: string; mlsKey: string }[] }
  >([[core.deviceId, { deviceId: core.deviceId, thisDevice: true, caucuses: [] }]]);
  for (const caucus of core.caucuses()) {
    const view = caucus.view();
    if (view.removed) continue;
    for (const m of view.mediatorDevices) {
      let d = byId.get(m.deviceId);
      if (!d) byId.set(m.deviceId, (d = { deviceId: m.deviceId, thisDevice: false, caucuses: [] }));
      d.caucuses.push({ caucusId: view.caucusId, mlsKey: m.mlsKey });
    }
  }
  return [...byId.values()];
}

/**
 * Removes another device of this mediator (the caller holds the lock): an MLS remove commit in
 * every caucus it is a member of (each is re-keyed, so it can read nothing sent afterwards), then
 * the relay drops it from the mediator's channels and from the caucuses it was still waiting to
 * join. This device must itself be in each caucus the other one joined; if the relay reports one
 * it is not (yet) in, it throws removal_incomplete and the rest is already done — sync and try
 * again later.
 */
export async function removeMediatorDevice(
  core: DeviceCore,
  deviceId: string,
): Promise<{ caucusIds: string[] }> {
  if (deviceId === core.deviceId)
    throw new SdkError(
      "cannot_remove_self",
      "a device cannot remove itself: remove it from another of the mediator's devices",
    );
  // From now on this device never admits it again, whatever the relay says.
  const refused = (core.state.removedMediatorDevices ??= []);
  if (!refused.includes(deviceId)) refused.push(deviceId);
  await core.save();
  const removedFrom: string[] = [];
  for (let attempt = 0; ; attempt++) {
    await syncAll(core);
    for (const caucus of core.caucuses()) {
      const view = caucus.view();
      if (view.removed || !view.joined) continue;
      if (!view.mediatorDevices.some((m) => m.deviceId === deviceId)) continue;
      await commitChange(core, view.caucusId, { removeDeviceIds: [deviceId] });
      removedFrom.push(view.caucusId);
    }
    try {
      await core.session.withRetry(() => core.api().call("removeMediatorDevice", { params: { deviceId } }));
      return { caucusIds: removedFrom };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // Gone already (an earlier attempt got this far), or never one of ours.
      if (e.code === "not_found") {
        if (removedFrom.length) return { caucusIds: removedFrom };
        throw new SdkError("member_unknown", `device ${deviceId} is not one of this mediator's devices`);
      }
      // Admitted somewhere meanwhile, or a member of a caucus this device has not joined yet.
      if (e.code === "still_member" && attempt < 2) continue;
      if (e.code === "still_member")
        throw new SdkError(
          "removal_incomplete",
          "the device is still a member of a caucus this device has not joined yet; sync and try again",
        );
      throw e;
    }
  }
}
