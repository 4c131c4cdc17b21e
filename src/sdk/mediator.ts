import {
  checkConveyance,
  createCaucusResponse,
  createChannelResponse,
  createInviteResponse,
  pendingResponse,
  registerMediatorResponse,
  fromBase64Url,
  toBase64Url,
  utf8,
  sha256HexOf,
  type Attribution,
  type ConveyanceMode,
  type EventBody,
} from "../protocol/index.js";
import { certifyMediatorDevice, signInviteCert, verifyCredential } from "../crypto/mls/credential.js";
import {
  CaucusGroup,
  decodeKeyPackage,
  keyPackageCredential,
  newDeviceKeys,
} from "../crypto/mls/caucus-group.js";
import { generateIdentityKey, identityPublicKey } from "../crypto/identity.js";
import { verificationCode } from "../crypto/verification-code.js";
import { Device } from "./device.js";
import type { CaucusRecord, DeviceState, TranscriptEntry } from "./device-state.js";
import { SdkError } from "./errors.js";
import { HttpClient } from "./http-client.js";
import { encodeInviteCode } from "./invite-code.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";
import { genesis } from "./genesis.js";
import { uuidv7 } from "./uuidv7.js";

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

export interface UnderstandingStatus {
  understandingId: string;
  text: string;
  endorsedBy: string[];
  pending: string[];
  /** True only when every party endorsed this exact text. */
  reached: boolean;
}

/** The mediator's device: opens channels, invites and admits handlers, conveys, proposes. */
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
    await new HttpClient(opts.serverUrl).request("POST", "/v1/mediators", registerMediatorResponse, {
      deviceId,
      authPublicKey: authKey.publicKey,
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
        this.api().request("POST", "/v1/channels", createChannelResponse, {}),
      );
      const view: ChannelView = { channelId, topic: opts.topic.trim(), caucuses: [] };
      for (const partyName of names) {
        const { caucusId } = await this.session.withRetry(() =>
          this.api().request("POST", `/v1/channels/${channelId}/caucuses`, createCaucusResponse, {}),
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
        this.api().request("POST", `/v1/caucuses/${caucusId}/invites`, createInviteResponse, {
          inviteId,
          invitePublicKey: inviteKeyB64,
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
   * Admits every device that redeemed one of our invites: its key package must carry a credential
   * chained to an invite we issued for that caucus, for the device id that redeemed it.
   */
  protected override async beforeSync(): Promise<void> {
    for (const [caucusId, record] of Object.entries(this.state.caucuses)) {
      if (record.removed) continue;
      const { pending } = await this.session.withRetry(() =>
        this.api().request("GET", `/v1/caucuses/${caucusId}/pending`, pendingResponse),
      );
      const admit: { deviceId: string; keyPackage: Uint8Array; inviteId: string }[] = [];
      for (const p of pending) {
        const invite = this.state.invites[p.inviteId];
        if (!invite || invite.caucusId !== caucusId || invite.admittedDeviceId) continue;
        const bytes = fromBase64Url(p.keyPackage);
        let ok = false;
        try {
          const kp = decodeKeyPackage(bytes);
          const cred = keyPackageCredential(kp);
          ok =
            cred?.role === "party" &&
            cred.deviceId === p.deviceId &&
            cred.inviteId === p.inviteId &&
            cred.inviteKey === invite.inviteKey &&
            verifyCredential(cred, kp.leafNode.signaturePublicKey, {
              mediatorKey: this.state.mediatorKey,
              caucusId,
            });
        } catch {
          ok = false;
        }
        if (ok) admit.push({ deviceId: p.deviceId, keyPackage: bytes, inviteId: p.inviteId });
      }
      if (!admit.length) continue;
      await this.commitUnlocked(caucusId, { add: admit });
      for (const a of admit) this.state.invites[a.inviteId]!.admittedDeviceId = a.deviceId;
      await this.save();
      // New members cannot read what came before them: tell them what this caucus is.
      await this.sendUnlocked(caucusId, {
        type: "channel_info",
        topic: record.topic ?? "",
        partyName: record.partyName ?? "",
        mediatorName: this.state.name,
      });
    }
  }

  /** Receipts owed for conveyances already made (a crash between the two sends). */
  protected override async afterSync(): Promise<void> {
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
      const source = this.caucus(opts.from);
      const entry = source.entries.find((e) => e.eventId === opts.eventId);
      const body = entry?.payload?.body;
      if (
        !entry ||
        !body ||
        entry.senderRole !== "party" ||
        (body.type !== "signal" && body.type !== "acknowledgement")
      )
        throw new SdkError("source_invalid", "only a party's signal or acknowledgement can be conveyed");
      const allowedAttribution: Attribution = body.attribution;
      const attribution = opts.attribution ?? allowedAttribution;
      checkConveyance(body.disclosure, opts.mode, body.attribution, attribution);
      if (body.type === "signal" && body.expiresAt && Date.parse(body.expiresAt) < Date.now())
        throw new SdkError("signal_expired", "this signal has expired and can no longer be conveyed");
      const original = body.text ?? "Received.";
      let text: string;
      if (opts.mode === "verbatim") {
        if (opts.text !== undefined && opts.text !== original)
          throw new SdkError(
            "verbatim_altered",
            "a verbatim conveyance carries the exact words; omit the text or give it unchanged",
          );
        text = original;
      } else {
        if (!opts.text?.trim())
          throw new SdkError(
            "substance_text_required",
            "conveying in substance needs the mediator's own wording",
          );
        text = opts.text.trim();
      }
      const channel = this.channelOf(opts.from);
      const targets = opts.to ?? channel.caucuses.map((c) => c.caucusId).filter((id) => id !== opts.from);
      if (
        !targets.length ||
        targets.some((t) => t === opts.from || !channel.caucuses.some((c) => c.caucusId === t))
      )
        throw new SdkError("target_invalid", "conveyances go to other caucuses of the same channel");
      const fromParty = attribution === "party" ? this.partyName(opts.from) : undefined;
      const receipt = {
        type: "receipt" as const,
        sourceEventId: opts.eventId,
        mode: opts.mode,
        text,
        attributedAs: attribution,
        toParties: targets.map((t) => this.partyName(t)),
      };
      // The receipt is owed from the moment the first conveyance may land (survives a crash).
      const receiptId = uuidv7();
      this.state.owedReceipts.push({ caucusId: opts.from, eventId: receiptId, body: receipt });
      await this.save();
      const conveyances: TranscriptEntry[] = [];
      for (const target of targets) {
        conveyances.push(
          await this.sendUnlocked(target, {
            type: "conveyance",
            source: body.type,
            mode: opts.mode,
            text,
            ...(body.type === "signal" ? { signalKind: body.signalKind } : {}),
            stance: body.stance,
            ...(fromParty ? { fromParty } : {}),
            ...(body.type === "signal" && body.expiresAt ? { expiresAt: body.expiresAt } : {}),
          }),
        );
      }
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
    const channel = this.channel(channelId);
    const proposals = new Map<string, string>();
    for (const c of channel.caucuses)
      for (const e of this.entries(c.caucusId))
        if (e.payload?.body.type === "understanding_proposal")
          proposals.set(e.payload.body.understandingId, e.payload.body.text);
    return [...proposals].map(([understandingId, text]) => {
      const hash = sha256HexOf(utf8(text));
      const endorsedBy = channel.caucuses
        .filter((c) =>
          this.entries(c.caucusId).some(
            (e) =>
              e.senderRole === "party" &&
              e.payload?.body.type === "endorsement" &&
              e.payload.body.understandingId === understandingId &&
              e.payload.body.textSha256 === hash &&
              e.payload.body.text === text,
          ),
        )
        .map((c) => c.partyName);
      const pending = channel.caucuses.map((c) => c.partyName).filter((n) => !endorsedBy.includes(n));
      return { understandingId, text, endorsedBy, pending, reached: pending.length === 0 };
    });
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

  /** A note for the party (mediator's own words, never conveyed). */
  note(caucusId: string, text: string): Promise<TranscriptEntry> {
    return this.exclusive(() => this.sendUnlocked(caucusId, { type: "note", text }));
  }

  identityFingerprint(): string {
    return toBase64Url(identityPublicKey(this.secret));
  }
}

export type { CaucusRecord };
