import { fromBase64Url, mediatorLinkSigningString, toBase64Url, utf8 } from "../../protocol/index.js";
import { generateIdentityKey, sign } from "../../crypto/identity.js";
import type { CaucusView } from "../core/caucus.js";
import { DeviceCore } from "../core/device-core.js";
import { postHeartbeats } from "../core/liveness.js";
import { Device, newDeviceState, type DeviceSnapshot } from "../device.js";
import type { TranscriptEntry } from "../device-state.js";
import { SdkError } from "../errors.js";
import { HttpClient } from "../http-client.js";
import { decodeLinkCode } from "../link-code.js";
import type { Platform } from "../platform.js";
import { redeemOnce } from "../redeem-once.js";
import { writeNewState } from "../state-parts.js";
import type { StateStore } from "../state-store.js";
import { understandingStatus, type UnderstandingStatus } from "../understanding.js";
import { announceReachedUnderstandings } from "./understanding-news.js";
import { admit, admitPending, pendingAdmissions, type PendingAdmission } from "./admission.js";
import * as channels from "./channels.js";
import type { ChannelView, InviteOptions, InviteResult } from "./channels.js";
import { convey, flushOwedReceipts, resumeConveyances, type ConveyResult } from "./conveyance.js";
import type { ConveyOptions } from "./conveyance-plan.js";
import * as retention from "./retention.js";
import type { ChannelSettings } from "./retention.js";
import * as staff from "./staff.js";
import type { MediatorDeviceView } from "./staff.js";

/** A channel as the mediator's console shows it: its caucuses' snapshots and its understandings. */
export interface ChannelSnapshot {
  readonly channelId: string;
  readonly topic: string;
  readonly caucuses: readonly (CaucusView & { readonly partyName: string })[];
  readonly understandings: readonly UnderstandingStatus[];
}

/** A conveyance that has not reached every target yet, or whose receipt is not posted yet. */
export interface PendingConveyanceView {
  readonly id: string;
  readonly sourceCaucusId: string;
  readonly sourceParty: string;
  readonly sourceEventId: string;
  readonly text: string;
  /** Parties it has not reached (yet); it is retried on every sync. */
  readonly undelivered: readonly string[];
  /** Parties it reached whose receipt is not yet in the source caucus. */
  readonly unreceipted: readonly string[];
  /** The last failure per undelivered party (an error code). */
  readonly errors: Readonly<Record<string, string>>;
}

export interface MediatorSnapshot extends DeviceSnapshot {
  readonly role: "mediator";
  readonly channels: readonly ChannelSnapshot[];
  readonly mediatorDevices: readonly MediatorDeviceView[];
  readonly pendingConveyances: readonly PendingConveyanceView[];
  /** Handlers' devices waiting for the mediator to compare codes and admit them (this device's invites). */
  readonly pendingAdmissions: readonly PendingAdmission[];
}

/**
 * The mediator's device: opens channels, invites and admits handlers, conveys, proposes. A mediator
 * may have several devices (its staff): `link()` makes a one-time code for a new device, and
 * `Mediator.joinAsStaff` creates that device from it. The work is done by the modules beside
 * this file (channels, admission, staff, conveyance); this class is their public face.
 */
export class Mediator extends Device<MediatorSnapshot> {
  private channelSnaps = new Map<string, { parts: readonly unknown[]; snap: ChannelSnapshot }>();
  private devicesSnap: { parts: readonly unknown[]; snap: readonly MediatorDeviceView[] } | undefined;
  private pendingSnap: { key: string; snap: readonly PendingConveyanceView[] } | undefined;

  static async create(opts: {
    serverUrl: string;
    name: string;
    store: StateStore;
    platform: Platform;
    /**
     * From the relay's operator: a relay with closed registration (the default) refuses a
     * mediator without one (registration_closed); an open relay ignores it.
     */
    registrationToken?: string;
  }): Promise<Mediator> {
    const deviceId = crypto.randomUUID();
    const authKey = await opts.platform.generateAuthKey();
    const identity = generateIdentityKey();
    await new HttpClient(opts.serverUrl).call("registerMediator", {
      body: {
        deviceId,
        authPublicKey: authKey.publicKey,
        ...(opts.registrationToken ? { registrationToken: opts.registrationToken } : {}),
      },
    });
    const state = newDeviceState({
      serverUrl: opts.serverUrl,
      deviceId,
      role: "mediator",
      name: opts.name,
      authKey,
      identityKey: { secret: toBase64Url(identity.secretKey), publicKey: toBase64Url(identity.publicKey) },
      mediatorKey: toBase64Url(identity.publicKey),
    });
    await writeNewState(opts.store, state);
    return new Mediator(new DeviceCore(state, opts.store, opts.platform, "parts"));
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
    const state = newDeviceState({
      serverUrl,
      deviceId,
      role: "mediator",
      name: link.mediatorName,
      authKey,
      identityKey: { secret: link.mediatorSecret, publicKey: link.mediatorKey },
      mediatorKey: link.mediatorKey,
    });
    await redeemOnce(opts.store, state, () =>
      new HttpClient(serverUrl).call("redeemMediatorLink", {
        params: { linkId: link.linkId },
        body: { deviceId, authPublicKey: authKey.publicKey, signature },
      }),
    );
    return new Mediator(new DeviceCore(state, opts.store, opts.platform, "parts"));
  }

  static async open(store: StateStore, platform: Platform): Promise<Mediator> {
    const core = await Device.loadCore(store, platform);
    if (core.state.role !== "mediator")
      throw new SdkError("wrong_role", "this device is a party handler's, not a mediator's");
    return new Mediator(core);
  }

  channels(): ChannelView[] {
    return channels.channels(this.core);
  }

  channel(channelId: string): ChannelView {
    return channels.channelById(this.core, channelId);
  }

  channelOf(caucusId: string): ChannelView {
    return channels.channelOf(this.core, caucusId);
  }

  partyName(caucusId: string): string {
    return this.channelOf(caucusId).caucuses.find((x) => x.caucusId === caucusId)!.partyName;
  }

  /**
   * True once this device is in every caucus the relay says it may join and knows each one's
   * channel, topic and party (always true for a device that opened its channels itself).
   */
  get joined(): boolean {
    return (
      Object.keys(this.core.state.mediatorJoinKeys ?? {}).length === 0 &&
      this.core.caucuses().every((c) => c.record.removed || staff.isPlaced(this.core, c.caucusId))
    );
  }

  /**
   * Opens a channel with one caucus (and one MLS group) per party. With `retentionDays`, the relay
   * deletes its messages that many days after they were sent (tombstones: README "Retention").
   */
  createChannel(opts: { topic: string; parties: string[]; retentionDays?: number }): Promise<ChannelView> {
    return this.core.exclusive(() => channels.createChannel(this.core, opts));
  }

  /** Sets (or, with null, lifts) how many days the relay keeps this channel's messages. */
  setRetention(channelId: string, retentionDays: number | null): Promise<ChannelSettings> {
    return this.core.exclusive(() => retention.setRetention(this.core, channelId, retentionDays));
  }

  /**
   * Closes the channel for good: the relay refuses every later message (channel_closed), the
   * parties see it closed, and its messages are deleted at `closed.deleteAt` (after a grace period).
   */
  closeChannel(channelId: string): Promise<ChannelSettings> {
    return this.core.exclusive(() => retention.closeChannel(this.core, channelId));
  }

  /**
   * A one-time invite code for a party's designated handler, to be given out of band. It expires
   * (default 24 hours); the device that redeems it waits until the mediator compared verification
   * codes with the handler and called `admit`, unless `confirm: false` opts out.
   */
  invite(caucusId: string, opts: InviteOptions = {}): Promise<InviteResult> {
    return this.core.exclusive(() => channels.invite(this.core, caucusId, opts));
  }

  /** Revokes an invite this device made: nobody is admitted for it from now on. */
  revokeInvite(inviteId: string): Promise<{ inviteId: string; droppedDeviceId?: string }> {
    return this.core.exclusive(() => channels.revokeInvite(this.core, inviteId));
  }

  /**
   * Handlers' devices waiting for confirmation, as of the last sync (sync first for news): compare
   * each one's verification code with the handler, then `admit` it.
   */
  pendingAdmissions(): readonly PendingAdmission[] {
    return pendingAdmissions(this.core);
  }

  /**
   * Admits a handler's device after the mediator compared verification codes with its handler.
   * Throws admission_unknown unless it is waiting on an invite this device made.
   */
  admit(caucusId: string, deviceId: string): Promise<void> {
    return this.core.exclusive(() => admit(this.core, caucusId, deviceId));
  }

  /**
   * A one-time code that makes a new device of this mediator (staff): give it, out of band, to the
   * person setting up that device (`Mediator.joinAsStaff`, or `backchannel mediator join`). It holds
   * the mediator's identity key, so treat it like that key.
   */
  link(): Promise<{ code: string; linkId: string }> {
    return this.core.exclusive(() => staff.link(this.core));
  }

  /** Handler devices of a caucus (as the MLS roster says), for the mediator's eyes only. */
  handlers(caucusId: string): CaucusView["handlers"] {
    return this.caucus(caucusId).handlers;
  }

  /**
   * Conveys a signal or acknowledgement into other caucuses, enforcing what its sender allowed,
   * then posts the receipt (the exact words used, and how they were attributed) into the source,
   * naming only the targets it landed in. `undelivered` lists the others: they stay pending, are
   * retried on every sync, and are receipted when they land.
   */
  convey(opts: ConveyOptions): Promise<ConveyResult> {
    return this.core.exclusive(() => convey(this.core, opts));
  }

  /** Proposes an understanding's exact text to every party of a channel. */
  proposeUnderstanding(channelId: string, text: string): Promise<string> {
    return this.core.exclusive(() => channels.proposeUnderstanding(this.core, channelId, text));
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
    return this.core.exclusive(() => channels.removeHandlerDevice(this.core, caucusId, deviceId));
  }

  /** This mediator's devices (staff) as the MLS rosters list them, this device first. */
  mediatorDevices(): MediatorDeviceView[] {
    return staff.mediatorDevices(this.core);
  }

  /** Removes another device of this mediator from every caucus it is in (each is re-keyed). */
  removeMediatorDevice(deviceId: string): Promise<{ caucusIds: string[] }> {
    return this.core.exclusive(() => staff.removeMediatorDevice(this.core, deviceId));
  }

  /** A note for the party (mediator's own words, never conveyed). */
  note(caucusId: string, text: string): Promise<TranscriptEntry> {
    return this.core.exclusive(() => channels.note(this.core, caucusId, text));
  }

  protected override async beforeSync(): Promise<void> {
    await staff.joinWaitingCaucuses(this.core);
    await admitPending(this.core);
  }

  /** Caucuses joined since the last sync take their place; receipts still owed go out. */
  protected override async afterSync(): Promise<void> {
    await staff.placeJoinedCaucuses(this.core);
    await flushOwedReceipts(this.core);
    await resumeConveyances(this.core);
    await postHeartbeats(this.core);
    await announceReachedUnderstandings(this.core);
  }

  protected buildSnapshot(): MediatorSnapshot {
    return {
      ...this.baseSnapshot(),
      role: "mediator",
      channels: Object.freeze(this.channels().map((c) => this.channelSnapshot(c))),
      mediatorDevices: this.mediatorDevicesSnapshot(),
      pendingConveyances: this.pendingConveyancesSnapshot(),
      pendingAdmissions: pendingAdmissions(this.core),
    };
  }

  private pendingConveyancesSnapshot(): readonly PendingConveyanceView[] {
    const pending = this.core.state.pendingConveyances;
    const key = JSON.stringify(pending);
    if (this.pendingSnap?.key !== key)
      this.pendingSnap = {
        key,
        snap: Object.freeze(
          pending.map((p) =>
            Object.freeze({
              id: p.id,
              sourceCaucusId: p.sourceCaucusId,
              sourceParty: this.caucus(p.sourceCaucusId).partyName ?? "",
              sourceEventId: p.sourceEventId,
              text: p.conveyance.text,
              undelivered: p.targets.filter((t) => !t.delivered).map((t) => t.partyName),
              unreceipted: p.targets.filter((t) => t.delivered && !t.receipted).map((t) => t.partyName),
              errors: Object.fromEntries(
                p.targets.flatMap((t) => (!t.delivered && t.lastError ? [[t.partyName, t.lastError]] : [])),
              ),
            }),
          ),
        ),
      };
    return this.pendingSnap.snap;
  }

  private mediatorDevicesSnapshot(): readonly MediatorDeviceView[] {
    const parts = this.caucusIds().map((id) => this.caucus(id));
    if (!sameParts(this.devicesSnap?.parts, parts))
      this.devicesSnap = { parts, snap: Object.freeze(this.mediatorDevices()) };
    return this.devicesSnap!.snap;
  }

  /** Rebuilt only when one of its caucuses changed, so an unchanged channel keeps its identity. */
  private channelSnapshot(channel: ChannelView): ChannelSnapshot {
    const views = channel.caucuses.map((c) => this.caucus(c.caucusId));
    const parts = [channel.topic, ...views];
    const cached = this.channelSnaps.get(channel.channelId);
    if (cached && sameParts(cached.parts, parts)) return cached.snap;
    const snap: ChannelSnapshot = Object.freeze({
      channelId: channel.channelId,
      topic: channel.topic,
      // A caucus placed in a channel always knows its party (see staff.placeJoinedCaucuses).
      caucuses: Object.freeze(
        views.map((v, i) =>
          v.partyName
            ? (v as CaucusView & { partyName: string })
            : Object.freeze({ ...v, partyName: channel.caucuses[i]!.partyName }),
        ),
      ),
      understandings: Object.freeze(this.understandings(channel.channelId)),
    });
    this.channelSnaps.set(channel.channelId, { parts, snap });
    return snap;
  }
}

const sameParts = (a: readonly unknown[] | undefined, b: readonly unknown[]) =>
  !!a && a.length === b.length && a.every((p, i) => p === b[i]);

export type {
  ChannelView,
  ConveyOptions,
  ConveyResult,
  InviteOptions,
  InviteResult,
  MediatorDeviceView,
  PendingAdmission,
};
