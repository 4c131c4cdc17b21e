import {
  mediatorLinkSigningString,
  fromBase64Url,
  toBase64Url,
  utf8,
  type Attribution,
  type ConveyanceMode,
  type EventBody,
} from "../protocol/index.js";
import {
  certifyMediatorDevice,
  signChannelProof,
  signInviteCert,
  verifyChannelProof,
  verifyCredential,
} from "../crypto/mls/credential.js";
import {
  CaucusGroup,
  GroupError,
  decodeKeyPackage,
  keyPackageCredential,
  newDeviceKeys,
} from "../crypto/mls/caucus-group.js";
import { generateIdentityKey, sign } from "../crypto/identity.js";
import { verificationCode } from "../crypto/verification-code.js";
import { Device } from "./device.js";
import type { CaucusRecord, DeviceState, TranscriptEntry } from "./device-state.js";
import { ApiError, SdkError } from "./errors.js";
import { HttpClient } from "./http-client.js";
import { redeemOnce } from "./redeem-once.js";
import { encodeInviteCode } from "./invite-code.js";
import { decodeLinkCode, encodeLinkCode } from "./link-code.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";
import { genesis } from "./genesis.js";
import { uuidv7 } from "./uuidv7.js";
import { planConveyance } from "./conveyance-plan.js";
import { understandingStatus, type UnderstandingStatus } from "./understanding.js";

export type { UnderstandingStatus };

export interface ChannelView {
  channelId: string;
  topic: string;
  caucuses: { caucusId: string; partyName: string }[];
}

export interface ConveyOptions {
  /** The caucus the signal (or acknowledgement) was said in, and its event id. */
  from: string;
  eventId: string;
  /** Target caucuses; default: every other caucus of the channel. */
  to?: string[];
  mode: ConveyanceMode;
  /** Required for substance (the mediator's paraphrase); must be omitted or exact for verbatim. */
  text?: string;
  /** Default: as the sender allowed (party if allowed, else anonymous). */
  attribution?: Attribution;
}

/** One of the mediator's devices (its staff), as the MLS rosters of this device's caucuses show it. */
export interface MediatorDeviceView {
  deviceId: string;
  /** This device. */
  thisDevice: boolean;
  /** The caucuses it is a member of (among this device's), with its MLS signature key in each. */
  caucuses: { caucusId: string; mlsKey: string }[];
}

/**
 * The mediator's device: opens channels, invites and admits handlers, conveys, proposes. A mediator
 * may have several devices (its staff): they share the mediator's identity key (what parties pin),
 * each has its own device id, login key and MLS keys, and each is a member of every caucus of the
 * mediator's channels from the commit that added it on. `link()` makes a one-time code for a new
 * device; `Mediator.joinAsStaff` creates that device from it.
 */
export class Mediator extends Device {
  static async create(opts: {
    serverUrl: string;
    name: string;
    store: StateStore;
    platform: Platform;
  }): Promise<Mediator> {
    const deviceId = crypto.randomUUID();
    const authKey = await opts.platform.generateAuthKey();
    const identity = generateIdentityKey();
    await new HttpClient(opts.serverUrl).call("registerMediator", {
      body: { deviceId, authPublicKey: authKey.publicKey },
    });
    const state: DeviceState = {
      v: 1,
      serverUrl: opts.serverUrl,
      deviceId,
      role: "mediator",
      name: opts.name,
      authKey,
      identityKey: { secret: toBase64Url(identity.secretKey), publicKey: toBase64Url(identity.publicKey) },
      mediatorKey: toBase64Url(identity.publicKey),
      channels: {},
      invites: {},
      caucuses: {},
      owedReceipts: [],
    };
    await opts.store.save(state);
    return new Mediator(state, opts.store, opts.platform);
  }

  /**
   * Creates a new device of an existing mediator from a link code that one of its devices made
   * (`link()`). The device joins every caucus of the linking device's channels: it hands in a key
   * package per caucus on its next sync, one of the mediator's devices adds it by commit, and it
   * reads each caucus from that commit on (nothing said before it joined).
   */
  static async joinAsStaff(opts: {
    linkCode: string;
    store: StateStore;
    platform: Platform;
    serverUrl?: string;
  }): Promise<Mediator> {
    const link = decodeLinkCode(opts.linkCode);
    const serverUrl = opts.serverUrl ?? link.server;
    const deviceId = crypto.randomUUID();
    const authKey = await opts.platform.generateAuthKey();
    const signature = toBase64Url(
      sign(
        fromBase64Url(link.linkSecret),
        utf8(mediatorLinkSigningString(link.linkId, deviceId, authKey.publicKey)),
      ),
    );
    const state: DeviceState = {
      v: 1,
      serverUrl,
      deviceId,
      role: "mediator",
      name: link.mediatorName,
      authKey,
      identityKey: { secret: link.mediatorSecret, publicKey: link.mediatorKey },
      mediatorKey: link.mediatorKey,
      channels: {},
      invites: {},
      caucuses: {},
      owedReceipts: [],
    };
    await redeemOnce(opts.store, state, () =>
      new HttpClient(serverUrl).call("redeemMediatorLink", {
        params: { linkId: link.linkId },
        body: { deviceId, authPublicKey: authKey.publicKey, signature },
      }),
    );
    return new Mediator(state, opts.store, opts.platform);
  }

  static async open(store: StateStore, platform: Platform): Promise<Mediator> {
    const state = await Device.loadState(store);
    if (state.role !== "mediator")
      throw new SdkError("wrong_role", "this device is a party handler's, not a mediator's");
    return new Mediator(state, store, platform);
  }

  private get secret(): Uint8Array {
    return fromBase64Url(this.state.identityKey.secret);
  }

  channels(): ChannelView[] {
    return Object.values(this.state.channels);
  }

  channel(channelId: string): ChannelView {
    const c = this.state.channels[channelId];
    if (!c) throw new SdkError("channel_unknown", `no channel ${channelId} on this device`);
    return c;
  }

  channelOf(caucusId: string): ChannelView {
    const c = this.channels().find((ch) => ch.caucuses.some((x) => x.caucusId === caucusId));
    if (!c) throw new SdkError("caucus_unknown", `no caucus ${caucusId} on this device`);
    return c;
  }

  partyName(caucusId: string): string {
    return this.channelOf(caucusId).caucuses.find((x) => x.caucusId === caucusId)!.partyName;
  }

  /** Opens a channel with one caucus (and one MLS group) per party. */
  createChannel(opts: { topic: string; parties: string[] }): Promise<ChannelView> {
    return this.exclusive(async () => {
      const names = opts.parties.map((p) => p.trim());
      if (names.length < 2) throw new SdkError("parties_too_few", "a channel needs at least two parties");
      if (new Set(names.map((n) => n.toLowerCase())).size !== names.length || names.some((n) => !n))
        throw new SdkError("parties_invalid", "party names must be non-empty and distinct");
      if (!opts.topic.trim()) throw new SdkError("topic_invalid", "a channel needs a topic");
      const { channelId } = await this.session.withRetry(() =>
        this.api().call("createChannel", { body: {} }),
      );
      const view: ChannelView = { channelId, topic: opts.topic.trim(), caucuses: [] };
      for (const partyName of names) {
        const { caucusId } = await this.session.withRetry(() =>
          this.api().call("createCaucus", { params: { channelId }, body: {} }),
        );
        const trust = { mediatorKey: this.state.mediatorKey, caucusId };
        const keys = await newDeviceKeys((mlsKey) =>
          certifyMediatorDevice(this.secret, fromBase64Url(this.state.mediatorKey), this.deviceId, mlsKey),
        );
        const group = await CaucusGroup.create(trust, keys);
        const g = genesis(caucusId);
        this.state.caucuses[caucusId] = {
          caucusId,
          channelId,
          partyName,
          topic: view.topic,
          mediatorName: this.state.name,
          group: toBase64Url(group.serialize()),
          anchor: g,
          head: g,
          entries: [],
          outbox: {},
          removed: false,
        };
        view.caucuses.push({ caucusId, partyName });
      }
      this.state.channels[channelId] = view;
      await this.save();
      return view;
    });
  }

  /** A one-time invite code for a party's designated handler, to be given out of band. */
  invite(caucusId: string): Promise<{ code: string; inviteId: string }> {
    return this.exclusive(async () => {
      this.caucus(caucusId);
      const inviteKey = generateIdentityKey();
      const inviteId = crypto.randomUUID();
      const inviteKeyB64 = toBase64Url(inviteKey.publicKey);
      const inviteCert = signInviteCert(this.secret, { inviteId, inviteKey: inviteKeyB64, caucusId });
      await this.session.withRetry(() =>
        this.api().call("createInvite", {
          params: { caucusId },
          body: { inviteId, invitePublicKey: inviteKeyB64 },
        }),
      );
      this.state.invites[inviteId] = {
        inviteId,
        caucusId,
        inviteKey: inviteKeyB64,
        createdAt: new Date().toISOString(),
      };
      await this.save();
      const code = encodeInviteCode({
        v: 1,
        server: this.state.serverUrl,
        caucusId,
        inviteId,
        inviteSecret: toBase64Url(inviteKey.secretKey),
        inviteKey: inviteKeyB64,
        inviteCert,
        mediatorKey: this.state.mediatorKey,
      });
      return { code, inviteId };
    });
  }

  /**
   * A one-time code that makes a new device of this mediator (staff): give it, out of band, to the
   * person setting up that device (`Mediator.joinAsStaff`, or `backchannel mediator join`). It holds
   * the mediator's identity key, so treat it like that key. The new device joins every channel this
   * device mediates when it redeems the code, and every channel opened later by any of the
   * mediator's devices.
   */
  link(): Promise<{ code: string; linkId: string }> {
    return this.exclusive(async () => {
      const linkKey = generateIdentityKey();
      const linkId = crypto.randomUUID();
      await this.session.withRetry(() =>
        this.api().call("createMediatorLink", {
          body: { linkId, linkPublicKey: toBase64Url(linkKey.publicKey) },
        }),
      );
      const code = encodeLinkCode({
        v: 1,
        server: this.state.serverUrl,
        linkId,
        linkSecret: toBase64Url(linkKey.secretKey),
        mediatorSecret: this.state.identityKey.secret,
        mediatorKey: this.state.mediatorKey,
        mediatorName: this.state.name,
      });
      return { code, linkId };
    });
  }

  /**
   * True once this device is in every caucus the relay says it may join and knows each one's
   * channel, topic and party (always true for a device that opened its channels itself).
   */
  get joined(): boolean {
    return (
      Object.keys(this.state.mediatorJoinKeys ?? {}).length === 0 &&
      Object.values(this.state.caucuses).every((r) => r.removed || this.placed(r.caucusId))
    );
  }

  /** Waits (polling) until another of the mediator's devices has added this one everywhere. */
  async waitUntilJoined(timeoutMs = 30_000, pollMs = 250): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await this.sync();
      if (this.joined) return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private placed(caucusId: string): boolean {
    return this.channels().some((c) => c.caucuses.some((x) => x.caucusId === caucusId));
  }

  protected override async beforeSync(): Promise<void> {
    await this.joinWaitingCaucuses();
    await this.admitPending();
  }

  /**
   * Caucuses this device may join but is not in yet (it was linked, or another of the mediator's
   * devices opened them): hands in a key package certified with the mediator's identity key, then
   * joins from the Welcome once another device has added it.
   */
  private async joinWaitingCaucuses(): Promise<void> {
    const { memberships } = await this.me();
    const waiting = (this.state.mediatorJoinKeys ??= {});
    const listed = new Set(memberships.map((m) => m.caucusId));
    for (const m of memberships) {
      if (this.state.caucuses[m.caucusId]) continue;
      let keys = waiting[m.caucusId];
      if (!m.joined) {
        if (!keys) {
          const fresh = await newDeviceKeys((mlsKey) =>
            certifyMediatorDevice(this.secret, fromBase64Url(this.state.mediatorKey), this.deviceId, mlsKey),
          );
          keys = waiting[m.caucusId] = {
            keyPackage: toBase64Url(fresh.keyPackage),
            initPrivateKey: toBase64Url(fresh.privatePackage.initPrivateKey),
            hpkePrivateKey: toBase64Url(fresh.privatePackage.hpkePrivateKey),
            signaturePrivateKey: toBase64Url(fresh.privatePackage.signaturePrivateKey),
            uploaded: false,
          };
          await this.save();
        }
        if (!keys.uploaded) {
          const keyPackage = keys.keyPackage;
          await this.session.withRetry(() =>
            this.api().call("uploadKeyPackage", { params: { caucusId: m.caucusId }, body: { keyPackage } }),
          );
          keys.uploaded = true;
          await this.save();
        }
        continue;
      }
      // Joined on the relay: with our keys, the Welcome that added us is waiting.
      if (!keys) continue;
      const w = await this.fetchWelcome(m.caucusId);
      if (!w) continue;
      let group: CaucusGroup;
      try {
        group = await CaucusGroup.join(
          { mediatorKey: this.state.mediatorKey, caucusId: m.caucusId },
          fromBase64Url(w.welcome),
          {
            publicPackage: decodeKeyPackage(fromBase64Url(keys.keyPackage)),
            privatePackage: {
              initPrivateKey: fromBase64Url(keys.initPrivateKey),
              hpkePrivateKey: fromBase64Url(keys.hpkePrivateKey),
              signaturePrivateKey: fromBase64Url(keys.signaturePrivateKey),
            },
          },
        );
      } catch (e) {
        // A Welcome we cannot trust (or read) joins nothing; the other caucuses go on.
        if (e instanceof GroupError) continue;
        throw e;
      }
      const anchor = { seq: w.seq, hash: w.hash };
      this.state.caucuses[m.caucusId] = {
        caucusId: m.caucusId,
        ...(m.channelId ? { channelId: m.channelId } : {}),
        mediatorName: this.state.name,
        group: toBase64Url(group.serialize()),
        anchor,
        head: anchor,
        entries: [],
        outbox: {},
        removed: false,
      };
      delete waiting[m.caucusId];
      await this.save();
    }
    // Memberships the relay dropped (this device was removed before it joined).
    for (const caucusId of Object.keys(waiting)) if (!listed.has(caucusId)) delete waiting[caucusId];
  }

  /**
   * Admits every device waiting in our caucuses that we can certify: a handler's device whose key
   * package carries a credential chained to an invite we issued for that caucus, for the device id
   * that redeemed it; or another device of this mediator whose credential our identity key signed
   * for its own device id.
   */
  private async admitPending(): Promise<void> {
    for (const caucusId of Object.keys(this.state.caucuses)) {
      // Another of the mediator's devices may commit at the same moment, even admitting the same
      // device: after losing the epoch, look again (the roster may already hold it).
      for (let attempt = 1; ; attempt++) {
        try {
          await this.admitInto(caucusId);
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

  private async admitInto(caucusId: string): Promise<void> {
    const record = this.caucus(caucusId);
    // A caucus whose transcript failed verification admits nobody until that is resolved.
    if (record.removed || !record.group || record.problem) return;
    let pending;
    try {
      ({ pending } = await this.session.withRetry(() =>
        this.api().call("listPending", { params: { caucusId } }),
      ));
    } catch (e) {
      // Another of the mediator's devices removed this one: the sync of the caucus records it.
      if (e instanceof ApiError && e.code === "not_found") return;
      throw e;
    }
    if (!pending.length) return;
    // Until this device knows what the caucus is, it leaves admitting to the device that does.
    if (!record.topic || !record.partyName) return;
    await this.syncCaucus(caucusId);
    if (record.removed || !record.group || record.problem) return;
    const trust = { mediatorKey: this.state.mediatorKey, caucusId };
    const members = new Set(
      CaucusGroup.restore(trust, fromBase64Url(record.group))
        .roster()
        .map((m) => m.credential?.deviceId),
    );
    const refused = new Set(this.state.removedMediatorDevices ?? []);
    const admit: { deviceId: string; keyPackage: Uint8Array; inviteId?: string }[] = [];
    for (const p of pending) {
      if (members.has(p.deviceId)) continue;
      const bytes = fromBase64Url(p.keyPackage);
      let ok = false;
      try {
        const kp = decodeKeyPackage(bytes);
        const cred = keyPackageCredential(kp);
        if ("inviteId" in p) {
          const invite = this.state.invites[p.inviteId];
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
            cred.mediatorKey === this.state.mediatorKey &&
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
    await this.commitUnlocked(caucusId, { add: admit }, { retry: false });
    for (const a of admit) if (a.inviteId) this.state.invites[a.inviteId]!.admittedDeviceId = a.deviceId;
    await this.save();
    // New members cannot read what came before them: tell them what this caucus is.
    await this.sendUnlocked(caucusId, this.channelInfo(record));
  }

  private channelInfo(record: CaucusRecord): EventBody {
    const topic = record.topic ?? "";
    const partyName = record.partyName ?? "";
    return {
      type: "channel_info",
      topic,
      partyName,
      mediatorName: this.state.name,
      ...(record.channelId
        ? {
            channelProof: signChannelProof(this.secret, {
              caucusId: record.caucusId,
              channelId: record.channelId,
              topic,
              partyName,
            }),
          }
        : {}),
    };
  }

  /**
   * Caucuses this device joined after they were made learn their topic and party from a
   * channel_info that another of the mediator's devices posts, and are placed in their channel only
   * if its proof (by the mediator's identity key) names the channel the relay says they are in.
   */
  private async placeJoinedCaucuses(): Promise<void> {
    const placedNow: string[] = [];
    for (const record of Object.values(this.state.caucuses)) {
      if (!record.channelId || this.placed(record.caucusId)) continue;
      for (const e of record.entries) {
        const b = e.payload?.body;
        if (e.senderRole !== "mediator" || b?.type !== "channel_info" || !b.channelProof) continue;
        const placement = {
          caucusId: record.caucusId,
          channelId: record.channelId,
          topic: b.topic,
          partyName: b.partyName,
        };
        if (!verifyChannelProof(this.state.mediatorKey, placement, b.channelProof)) continue;
        record.topic = b.topic;
        record.partyName = b.partyName;
        record.mediatorName = b.mediatorName;
      }
      if (!record.topic || !record.partyName) continue;
      const channel = (this.state.channels[record.channelId] ??= {
        channelId: record.channelId,
        topic: record.topic,
        caucuses: [],
      });
      channel.caucuses.push({ caucusId: record.caucusId, partyName: record.partyName });
      placedNow.push(record.channelId);
    }
    if (!placedNow.length) return;
    // The relay's order of caucuses (oldest first) is what the device that made them shows too.
    const { channels } = await this.session.withRetry(() => this.api().call("listChannels"));
    for (const channelId of new Set(placedNow)) {
      const order = channels.find((c) => c.channelId === channelId)?.caucusIds ?? [];
      const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
      this.state.channels[channelId]!.caucuses.sort((a, b) => rank(a.caucusId) - rank(b.caucusId));
    }
    await this.save();
  }

  /**
   * Receipts owed for conveyances already made (a crash between the two sends); caucuses joined
   * since the last sync take their place in their channels.
   */
  protected override async afterSync(): Promise<void> {
    await this.placeJoinedCaucuses();
    while (this.state.owedReceipts.length) {
      const owed = this.state.owedReceipts[0]!;
      const record = this.state.caucuses[owed.caucusId];
      if (record && !record.entries.some((e) => e.eventId === owed.eventId)) {
        await this.sendUnlocked(owed.caucusId, owed.body as EventBody, owed.eventId);
      }
      this.state.owedReceipts.shift();
      await this.save();
    }
  }

  /** Handler devices of a caucus (as the MLS roster says), for the mediator's eyes only. */
  handlers(caucusId: string): { deviceId: string; handlerKey: string; verificationCode: string }[] {
    const record = this.caucus(caucusId);
    if (!record.group) return [];
    const group = CaucusGroup.restore(
      { mediatorKey: this.state.mediatorKey, caucusId },
      fromBase64Url(record.group),
    );
    return group
      .roster()
      .flatMap((m) => (m.credential?.role === "party" ? [m.credential] : []))
      .map((c) => ({
        deviceId: c.deviceId,
        handlerKey: c.handlerKey,
        verificationCode: verificationCode(
          fromBase64Url(this.state.mediatorKey),
          fromBase64Url(c.handlerKey),
        ),
      }));
  }

  /**
   * Conveys a signal or acknowledgement into other caucuses, enforcing what its sender allowed,
   * then posts the receipt (the exact words used, and how they were attributed) into the source.
   */
  convey(opts: ConveyOptions): Promise<{ conveyances: TranscriptEntry[]; receipt: TranscriptEntry }> {
    return this.exclusive(async () => {
      await this.syncUnlocked();
      const source = this.caucus(opts.from).entries.find((e) => e.eventId === opts.eventId);
      const { targets, conveyance, receipt } = planConveyance(opts, source, this.channelOf(opts.from));
      // The receipt is owed from the moment the first conveyance may land (survives a crash).
      const receiptId = uuidv7();
      this.state.owedReceipts.push({ caucusId: opts.from, eventId: receiptId, body: receipt });
      await this.save();
      const conveyances: TranscriptEntry[] = [];
      for (const target of targets) conveyances.push(await this.sendUnlocked(target, conveyance));
      const receiptEntry = await this.sendUnlocked(opts.from, receipt, receiptId);
      this.state.owedReceipts = this.state.owedReceipts.filter((r) => r.eventId !== receiptId);
      await this.save();
      return { conveyances, receipt: receiptEntry };
    });
  }

  /** Proposes an understanding's exact text to every party of a channel. */
  proposeUnderstanding(channelId: string, text: string): Promise<string> {
    return this.exclusive(async () => {
      const channel = this.channel(channelId);
      const understandingId = uuidv7();
      for (const c of channel.caucuses)
        await this.sendUnlocked(c.caucusId, { type: "understanding_proposal", understandingId, text });
      return understandingId;
    });
  }

  /** An understanding exists only when every party endorsed the identical text. */
  understandings(channelId: string): UnderstandingStatus[] {
    return understandingStatus(
      this.channel(channelId).caucuses.map((c) => ({
        partyName: c.partyName,
        entries: this.entries(c.caucusId),
      })),
    );
  }

  /** Removes a handler's device: an MLS remove commit re-keys the caucus, the relay drops access. */
  removeDevice(caucusId: string, deviceId: string): Promise<void> {
    return this.exclusive(async () => {
      const h = this.handlers(caucusId);
      if (!h.some((x) => x.deviceId === deviceId))
        throw new SdkError("member_unknown", `device ${deviceId} is not a handler in this caucus`);
      await this.commitUnlocked(caucusId, { removeDeviceIds: [deviceId] });
    });
  }

  /**
   * This mediator's devices (staff) as the MLS rosters of this device's caucuses list them — the
   * only source a removed or forged device cannot talk its way into — and this device first.
   */
  mediatorDevices(): MediatorDeviceView[] {
    const byId = new Map<string, MediatorDeviceView>([
      [this.deviceId, { deviceId: this.deviceId, thisDevice: true, caucuses: [] }],
    ]);
    for (const record of Object.values(this.state.caucuses)) {
      if (record.removed || !record.group) continue;
      const group = CaucusGroup.restore(
        { mediatorKey: this.state.mediatorKey, caucusId: record.caucusId },
        fromBase64Url(record.group),
      );
      for (const m of group.roster()) {
        if (m.credential?.role !== "mediator") continue;
        const id = m.credential.deviceId;
        let view = byId.get(id);
        if (!view) byId.set(id, (view = { deviceId: id, thisDevice: false, caucuses: [] }));
        view.caucuses.push({ caucusId: record.caucusId, mlsKey: toBase64Url(m.mlsKey) });
      }
    }
    return [...byId.values()];
  }

  /**
   * Removes another device of this mediator: an MLS remove commit in every caucus it is a member
   * of (each is re-keyed, so it can read nothing sent afterwards), then the relay drops it from
   * the mediator's channels and from the caucuses it was still waiting to join. This device must
   * itself be in each caucus the other one joined; if the relay reports one it is not (yet) in,
   * it throws removal_incomplete and the rest is already done — sync and try again later.
   */
  removeMediatorDevice(deviceId: string): Promise<{ caucusIds: string[] }> {
    return this.exclusive(async () => {
      if (deviceId === this.deviceId)
        throw new SdkError(
          "cannot_remove_self",
          "a device cannot remove itself: remove it from another of the mediator's devices",
        );
      // From now on this device never admits it again, whatever the relay says.
      const refused = (this.state.removedMediatorDevices ??= []);
      if (!refused.includes(deviceId)) refused.push(deviceId);
      await this.save();
      const removedFrom: string[] = [];
      for (let attempt = 0; ; attempt++) {
        await this.syncUnlocked();
        for (const record of Object.values(this.state.caucuses)) {
          if (record.removed || !record.group) continue;
          const group = CaucusGroup.restore(
            { mediatorKey: this.state.mediatorKey, caucusId: record.caucusId },
            fromBase64Url(record.group),
          );
          const member = group
            .roster()
            .some((m) => m.credential?.role === "mediator" && m.credential.deviceId === deviceId);
          if (!member) continue;
          await this.commitUnlocked(record.caucusId, { removeDeviceIds: [deviceId] });
          removedFrom.push(record.caucusId);
        }
        try {
          await this.session.withRetry(() =>
            this.api().call("removeMediatorDevice", { params: { deviceId } }),
          );
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
    });
  }

  /** A note for the party (mediator's own words, never conveyed). */
  note(caucusId: string, text: string): Promise<TranscriptEntry> {
    return this.exclusive(() => this.sendUnlocked(caucusId, { type: "note", text }));
  }
}

export type { CaucusRecord };
