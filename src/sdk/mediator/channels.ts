import { fromBase64Url, maxInviteTtlMs, toBase64Url } from "../../protocol/index.js";
import { certifyMediatorDevice, signInviteCert } from "../../crypto/mls/credential.js";
import { CaucusGroup, newDeviceKeys } from "../../crypto/mls/caucus-group.js";
import { generateIdentityKey } from "../../crypto/identity.js";
import type { DeviceCore } from "../core/device-core.js";
import { commitChange, sendEvent } from "../core/outbound.js";
import type { TranscriptEntry } from "../device-state.js";
import { ApiError, SdkError } from "../errors.js";
import { genesis } from "../genesis.js";
import { encodeInviteCode } from "../invite-code.js";
import { sealShortInvite } from "../short-invite.js";

/** A channel as the mediator's device knows it: its topic and one caucus per party. */
export interface ChannelView {
  channelId: string;
  topic: string;
  caucuses: { caucusId: string; partyName: string }[];
}

export function channels(core: DeviceCore): ChannelView[] {
  return Object.values(core.state.channels);
}

export function channelById(core: DeviceCore, channelId: string): ChannelView {
  const c = Object.hasOwn(core.state.channels, channelId) ? core.state.channels[channelId] : undefined;
  if (!c) throw new SdkError("channel_unknown", `no channel ${channelId} on this device`);
  return c;
}

export function channelOf(core: DeviceCore, caucusId: string): ChannelView {
  const c = channels(core).find((ch) => ch.caucuses.some((x) => x.caucusId === caucusId));
  if (!c) throw new SdkError("caucus_unknown", `no caucus ${caucusId} on this device`);
  return c;
}

/** Fresh MLS keys for this device, certified by the mediator's identity key. */
export function mediatorDeviceKeys(core: DeviceCore) {
  return newDeviceKeys((mlsKey) =>
    certifyMediatorDevice(core.identitySecret, fromBase64Url(core.state.mediatorKey), core.deviceId, mlsKey),
  );
}

/** Opens a channel with one caucus (and one MLS group) per party (the caller holds the lock). */
export async function createChannel(
  core: DeviceCore,
  opts: { topic: string; parties: string[]; retentionDays?: number },
): Promise<ChannelView> {
  const names = opts.parties.map((p) => p.trim());
  if (names.length < 2) throw new SdkError("parties_too_few", "a channel needs at least two parties");
  if (new Set(names.map((n) => n.toLowerCase())).size !== names.length || names.some((n) => !n))
    throw new SdkError("parties_invalid", "party names must be non-empty and distinct");
  if (!opts.topic.trim()) throw new SdkError("topic_invalid", "a channel needs a topic");
  const body = opts.retentionDays !== undefined ? { retentionDays: opts.retentionDays } : {};
  const { channelId } = await core.session.withRetry(() => core.api().call("createChannel", { body }));
  const view: ChannelView = { channelId, topic: opts.topic.trim(), caucuses: [] };
  for (const partyName of names) {
    const { caucusId } = await core.session.withRetry(() =>
      core.api().call("createCaucus", { params: { channelId }, body: {} }),
    );
    const group = await CaucusGroup.create(
      { mediatorKey: core.state.mediatorKey, caucusId },
      await mediatorDeviceKeys(core),
    );
    const g = genesis(caucusId);
    core.addCaucus(
      {
        caucusId,
        channelId,
        partyName,
        topic: view.topic,
        mediatorName: core.state.name,
        anchor: g,
        head: g,
        entries: [],
        outbox: {},
        removed: false,
      },
      group,
    );
    view.caucuses.push({ caucusId, partyName });
  }
  core.state.channels[channelId] = view;
  await core.save();
  return view;
}

/** How long an invite stays redeemable unless the mediator chooses otherwise. */
export const defaultInviteTtlMs = 24 * 60 * 60_000;

export interface InviteOptions {
  /**
   * Default true: the handler's device is admitted only after the mediator compared verification
   * codes with the handler and confirmed (`admit`). false is an explicit opt-out for low-stakes
   * channels: whoever redeems the code first is admitted.
   */
  confirm?: boolean;
  /** Default 24 hours; at most 30 days (the relay refuses more). */
  expiresInMs?: number;
}

export interface InviteResult {
  code: string;
  /**
   * The same invite in a form to read aloud (`7KQ3M-XHD9T-FAWR2-P8N4C`): the relay keeps the long
   * code sealed under it until the first take or the invite's expiry. Joining with it needs the
   * relay's address.
   */
  shortCode: string;
  inviteId: string;
  expiresAt: string;
  confirm: boolean;
}

/** A one-time invite code for a party's designated handler (the caller holds the lock). */
export async function invite(
  core: DeviceCore,
  caucusId: string,
  opts: InviteOptions = {},
): Promise<InviteResult> {
  core.caucus(caucusId);
  const ttl = opts.expiresInMs ?? defaultInviteTtlMs;
  if (!Number.isFinite(ttl) || ttl <= 0 || ttl > maxInviteTtlMs)
    throw new SdkError("invite_ttl_invalid", "an invite must expire within 30 days");
  const confirm = opts.confirm ?? true;
  const inviteKey = generateIdentityKey();
  const inviteId = crypto.randomUUID();
  const inviteKeyB64 = toBase64Url(inviteKey.publicKey);
  const inviteCert = signInviteCert(core.identitySecret, { inviteId, inviteKey: inviteKeyB64, caucusId });
  const now = Date.now();
  const expiresAt = new Date(now + ttl).toISOString();
  await core.session.withRetry(() =>
    core.api().call("createInvite", {
      params: { caucusId },
      body: { inviteId, invitePublicKey: inviteKeyB64, expiresAt },
    }),
  );
  core.state.invites[inviteId] = {
    inviteId,
    caucusId,
    inviteKey: inviteKeyB64,
    createdAt: new Date(now).toISOString(),
    expiresAt,
    confirm,
  };
  await core.save();
  const code = encodeInviteCode({
    v: 1,
    server: core.state.serverUrl,
    caucusId,
    inviteId,
    inviteSecret: toBase64Url(inviteKey.secretKey),
    inviteKey: inviteKeyB64,
    inviteCert,
    mediatorKey: core.state.mediatorKey,
    expiresAt,
  });
  const short = await sealShortInvite(code);
  await core.session.withRetry(() =>
    core.api().call("putShortInvite", { body: { lookupId: short.lookupId, box: short.box, expiresAt } }),
  );
  return { code, shortCode: short.shortCode, inviteId, expiresAt, confirm };
}

/**
 * Revokes an invite this device made (the caller holds the lock): from now on this device never
 * admits anyone for it, whatever the relay says, and the relay refuses redemptions and drops a
 * device still waiting on it. A handler already admitted stays: remove its device instead.
 */
export async function revokeInvite(
  core: DeviceCore,
  inviteId: string,
): Promise<{ inviteId: string; droppedDeviceId?: string }> {
  const record = Object.hasOwn(core.state.invites, inviteId) ? core.state.invites[inviteId] : undefined;
  if (!record) throw new SdkError("invite_unknown", `this device made no invite ${inviteId}`);
  record.revoked = true;
  await core.save();
  try {
    const r = await core.session.withRetry(() => core.api().call("revokeInvite", { params: { inviteId } }));
    return { inviteId, ...(r.droppedDeviceId ? { droppedDeviceId: r.droppedDeviceId } : {}) };
  } catch (e) {
    // This device left the caucus meanwhile: the invite is revoked here, which is what counts.
    if (e instanceof ApiError && e.code === "not_found") return { inviteId };
    throw e;
  }
}

/** Proposes an understanding's exact text to every party of a channel (the caller holds the lock). */
export async function proposeUnderstanding(
  core: DeviceCore,
  channelId: string,
  text: string,
): Promise<string> {
  const channel = channelById(core, channelId);
  const understandingId = crypto.randomUUID();
  for (const c of channel.caucuses)
    await sendEvent(core, c.caucusId, { type: "understanding_proposal", understandingId, text });
  return understandingId;
}

/** Removes a handler's device: an MLS remove commit re-keys the caucus, the relay drops access. */
export async function removeHandlerDevice(
  core: DeviceCore,
  caucusId: string,
  deviceId: string,
): Promise<void> {
  if (
    !core
      .caucus(caucusId)
      .view()
      .handlers.some((x) => x.deviceId === deviceId)
  )
    throw new SdkError("member_unknown", `device ${deviceId} is not a handler in this caucus`);
  await commitChange(core, caucusId, { removeDeviceIds: [deviceId] });
}

/** A note for the party: the mediator's own words, never conveyed. */
export function note(core: DeviceCore, caucusId: string, text: string): Promise<TranscriptEntry> {
  return sendEvent(core, caucusId, { type: "note", text });
}
