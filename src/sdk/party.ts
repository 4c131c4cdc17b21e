import {
  deletionHour,
  fromBase64Url,
  redeemSigningString,
  sha256HexOf,
  toBase64Url,
  utf8,
  type Attribution,
  type Disclosure,
  type SignalKind,
  type Stance,
  noStance,
} from "../protocol/index.js";
import { certifyPartyDevice } from "../crypto/mls/credential.js";
import { newDeviceKeys } from "../crypto/mls/caucus-group.js";
import { generateIdentityKey, sign } from "../crypto/identity.js";
import { verificationCode } from "../crypto/verification-code.js";
import { uploadAll, type FileSource } from "./attachments.js";
import type { CaucusView } from "./core/caucus.js";
import { DeviceCore, storedJoinKeys } from "./core/device-core.js";
import { sendEvent } from "./core/outbound.js";
import { syncAll } from "./core/transcript-sync.js";
import { Device, newDeviceState, type DeviceSnapshot } from "./device.js";
import type { TranscriptEntry } from "./device-state.js";
import { disclosureDefaults } from "./disclosure-policy.js";
import { SdkError } from "./errors.js";
import { HttpClient } from "./http-client.js";
import { redeemOnce } from "./redeem-once.js";
import { decodeInviteCode } from "./invite-code.js";
import { isShortCode, shortCodeLookup } from "./short-invite.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";

export interface SignalInput {
  signalKind?: SignalKind;
  text: string;
  stance?: Partial<Stance>;
  /** Default "substance": the mediator may pass it on in its own words, not verbatim. */
  disclosure?: Disclosure;
  /** Default "party": the other side learns which party said it. */
  attribution?: Attribution;
  expiresAt?: string;
  /**
   * With expiresAt: tell the relay the hour the signal expires in (rounded up), so it deletes the
   * ciphertext then as well (default true; README "Retention"). false keeps the expiry from the
   * relay, which then keeps the ciphertext until the channel's retention or close.
   */
  relayDeletion?: boolean;
  onBehalfOf?: string;
  inReplyTo?: string;
  /**
   * Files to attach (issue 12): each encrypted on this device with a fresh key and uploaded to
   * this caucus, streamed, before the signal is sent; conveyable as the text is (`disclosure`).
   */
  attachments?: readonly FileSource[];
  /** Told as each file goes up: which file (its index), bytes done, its size. */
  onProgress?: (file: number, done: number, size: number) => void;
  /**
   * Client-chosen random UUID, version 4 (default: a fresh one; an id with a time in it is
   * refused). Passing the id of a send that failed makes the retry idempotent: if the server
   * stored the first attempt, it is not stored twice.
   */
  eventId?: string;
}

export interface AcknowledgementInput {
  text?: string;
  stance?: Partial<Stance>;
  disclosure?: Disclosure;
  attribution?: Attribution;
}

/** A party handler's device, as its renderers see it. */
export interface PartySnapshot extends DeviceSnapshot {
  readonly role: "party";
  /** Its one caucus, once the mediator admitted this device. */
  readonly caucus: CaucusView | undefined;
  /** What the handler compares with the mediator out of band. */
  readonly verificationCode: string;
}

/** A party handler's device: one caucus with the mediator. */
export class Party extends Device<PartySnapshot> {
  private code: string | undefined;

  /**
   * Redeems an invite code, long (bc1-) or short (`7KQ3M-XHD9T-FAWR2-P8N4C`, which needs
   * `serverUrl`: it is taken from that relay, once): makes this device's keys, certifies them,
   * and asks to be admitted.
   */
  static async join(opts: {
    inviteCode: string;
    name?: string;
    store: StateStore;
    platform: Platform;
    serverUrl?: string;
  }): Promise<Party> {
    const invite = decodeInviteCode(await longInviteCode(opts.inviteCode, opts.serverUrl));
    if (invite.expiresAt && Date.parse(invite.expiresAt) <= Date.now())
      throw new SdkError(
        "invite_expired",
        `this invite code expired at ${invite.expiresAt}: ask the mediator for a new one`,
      );
    const serverUrl = opts.serverUrl ?? invite.server;
    const deviceId = crypto.randomUUID();
    const authKey = await opts.platform.generateAuthKey();
    const handler = generateIdentityKey();
    const keys = await newDeviceKeys((mlsKey) =>
      certifyPartyDevice({
        device: deviceId,
        caucus: invite.caucusId,
        handlerSecret: handler.secretKey,
        handlerKey: handler.publicKey,
        invite: {
          inviteId: invite.inviteId,
          inviteKey: invite.inviteKey,
          inviteCert: invite.inviteCert,
          inviteSecret: fromBase64Url(invite.inviteSecret),
        },
        mlsKey,
      }),
    );
    const joinKeys = storedJoinKeys(keys);
    const signature = toBase64Url(
      sign(
        fromBase64Url(invite.inviteSecret),
        utf8(redeemSigningString(invite.inviteId, deviceId, authKey.publicKey, sha256HexOf(keys.keyPackage))),
      ),
    );
    const state = {
      ...newDeviceState({
        serverUrl,
        deviceId,
        role: "party",
        name: opts.name ?? "handler",
        authKey,
        identityKey: { secret: toBase64Url(handler.secretKey), publicKey: toBase64Url(handler.publicKey) },
        mediatorKey: invite.mediatorKey,
      }),
      joinKeys: { caucusId: invite.caucusId, ...joinKeys },
    };
    await redeemOnce(opts.store, state, () =>
      new HttpClient(serverUrl).call("redeemInvite", {
        params: { inviteId: invite.inviteId },
        body: {
          deviceId,
          authPublicKey: authKey.publicKey,
          keyPackage: joinKeys.keyPackage,
          signature,
        },
      }),
    );
    return new Party(new DeviceCore(state, opts.store, opts.platform, "parts"));
  }

  static async open(store: StateStore, platform: Platform): Promise<Party> {
    const core = await Device.loadCore(store, platform);
    if (core.state.role !== "party")
      throw new SdkError("wrong_role", "this device is a mediator's, not a party handler's");
    return new Party(core);
  }

  get caucusId(): string {
    const id = this.core.state.joinKeys?.caucusId ?? this.core.caucusIds()[0];
    if (!id) throw new SdkError("not_joined", "this device has no caucus");
    return id;
  }

  get joined(): boolean {
    return !this.core.state.joinKeys && this.core.caucusIds().length > 0;
  }

  /** Code to compare with the mediator's screen (out of band) to rule out a substituted key. */
  verificationCode(): string {
    return (this.code ??= verificationCode(
      fromBase64Url(this.core.state.mediatorKey),
      fromBase64Url(this.core.state.identityKey.publicKey),
    ));
  }

  protected buildSnapshot(): PartySnapshot {
    return {
      ...this.baseSnapshot(),
      role: "party",
      caucus: this.joined ? this.caucus(this.caucusId) : undefined,
      verificationCode: this.verificationCode(),
    };
  }

  /** Joins the MLS group once the mediator has admitted this device. */
  protected override async beforeSync(): Promise<void> {
    const jk = this.core.state.joinKeys;
    if (!jk) return;
    // Ask whether the mediator admitted us before asking for the Welcome: polling a Welcome that
    // does not exist yet only produces 404s (which browsers log as errors).
    const { memberships } = await this.core.me();
    if (!memberships.some((m) => m.caucusId === jk.caucusId && m.joined)) return;
    if (!(await this.core.joinFromWelcome(jk.caucusId, jk, {}))) return;
    this.core.state.joinKeys = undefined;
    await this.core.save();
  }

  protected override async afterSync(): Promise<void> {
    // Channel info from the mediator names this caucus's topic and party for display (the newest
    // wins); the state is written only when that changed.
    let changed = false;
    for (const { record } of this.core.caucuses()) {
      const info = record.entries.findLast(
        (e) => e.senderRole === "mediator" && e.payload?.body.type === "channel_info",
      )?.payload?.body;
      if (info?.type !== "channel_info") continue;
      if (
        record.topic === info.topic &&
        record.partyName === info.partyName &&
        record.mediatorName === info.mediatorName
      )
        continue;
      record.topic = info.topic;
      record.partyName = info.partyName;
      record.mediatorName = info.mediatorName;
      changed = true;
    }
    if (changed) await this.core.save();
  }

  /**
   * A device still waiting for the mediator syncs (and joins, if it was admitted meanwhile); a
   * joined one sends without syncing first: one round trip per send (see sendEvent). One the
   * mediator has not admitted yet is not_joined: it has no caucus to write to until then.
   */
  private async joinIfAdmitted(): Promise<void> {
    if (!this.core.state.joinKeys) return;
    await syncAll(this.core);
    if (this.core.state.joinKeys)
      throw new SdkError(
        "not_joined",
        "this device waits for the mediator to admit it (the mediator compares its verification code first): nothing can be sent until then",
      );
  }

  /** An entry of this caucus, looked up after a sync only if this device does not hold it yet. */
  private async findEntry(match: (e: TranscriptEntry) => boolean): Promise<TranscriptEntry | undefined> {
    await this.joinIfAdmitted();
    const held = this.entries(this.caucusId).find(match);
    if (held) return held;
    await syncAll(this.core);
    return this.entries(this.caucusId).find(match);
  }

  /** Sends a signal into this party's caucus. Defaults: stance none, disclosure substance, attribution party. */
  send(input: SignalInput): Promise<TranscriptEntry> {
    return this.core.exclusive(async () => {
      await this.joinIfAdmitted();
      const attachments = await uploadAll(this.core, this.caucusId, input.attachments, input.onProgress);
      return sendEvent(
        this.core,
        this.caucusId,
        {
          type: "signal",
          signalKind: input.signalKind ?? "notification_of_intent",
          text: input.text,
          stance: { ...noStance, ...input.stance },
          disclosure: input.disclosure ?? disclosureDefaults.disclosure,
          attribution: input.attribution ?? disclosureDefaults.attribution,
          ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
          ...(input.onBehalfOf ? { onBehalfOf: input.onBehalfOf } : {}),
          ...(input.inReplyTo ? { inReplyTo: input.inReplyTo } : {}),
          ...(attachments ? { attachments } : {}),
        },
        input.eventId,
        relayDeletionTime(input, this.core.now()),
      );
    });
  }

  /**
   * Acknowledges a conveyance received in this caucus. Defaults, as for a signal: stance none,
   * disclosure substance, attribution party.
   */
  acknowledge(conveyanceEventId: string, input: AcknowledgementInput = {}): Promise<TranscriptEntry> {
    return this.core.exclusive(async () => {
      const target = await this.findEntry((e) => e.eventId === conveyanceEventId);
      if (target?.payload?.body.type !== "conveyance" || target.senderRole !== "mediator")
        throw new SdkError("conveyance_unknown", "there is no conveyance with that id in this caucus");
      return sendEvent(this.core, this.caucusId, {
        type: "acknowledgement",
        conveyanceEventId,
        ...(input.text?.trim() ? { text: input.text.trim() } : {}),
        stance: { ...noStance, ...input.stance },
        disclosure: input.disclosure ?? disclosureDefaults.disclosure,
        attribution: input.attribution ?? disclosureDefaults.attribution,
      });
    });
  }

  /** Endorses the exact text of an understanding the mediator proposed. */
  endorse(understandingId: string): Promise<TranscriptEntry> {
    return this.core.exclusive(async () => {
      const proposal = await this.findEntry(
        (e) =>
          e.senderRole === "mediator" &&
          e.payload?.body.type === "understanding_proposal" &&
          e.payload.body.understandingId === understandingId,
      );
      const body = proposal?.payload?.body;
      if (body?.type !== "understanding_proposal")
        throw new SdkError(
          "understanding_unknown",
          "no understanding with that id was proposed in this caucus",
        );
      return sendEvent(this.core, this.caucusId, {
        type: "endorsement",
        understandingId,
        text: body.text,
        textSha256: sha256HexOf(utf8(body.text)),
      });
    });
  }
}

/**
 * The signal's relay deletion time, if it has an expiry and its sender did not opt out: the hour
 * its expiry falls in, or, for an expiry already past, the next hour (the relay takes only a
 * future one; the devices burn it at once all the same).
 */
function relayDeletionTime(input: SignalInput, now: number): string | undefined {
  if (!input.expiresAt || input.relayDeletion === false) return undefined;
  const expires = Date.parse(input.expiresAt);
  // A malformed expiry is refused when the payload is checked, with the field's own message.
  return Number.isFinite(expires) ? deletionHour(Math.max(expires, now + 1)) : undefined;
}

/**
 * The long invite code `text` stands for: itself, or, for a short code, what the relay at
 * `serverUrl` keeps sealed under it (taken, so the short code works once).
 */
async function longInviteCode(text: string, serverUrl: string | undefined): Promise<string> {
  if (text.trim().startsWith("bc1-") || !isShortCode(text)) return text;
  if (serverUrl === undefined)
    throw new SdkError("short_code_server_required", "a short invite code needs the relay's address");
  const short = shortCodeLookup(text);
  const { box } = await new HttpClient(serverUrl).call("takeShortInvite", {
    params: { lookupId: short.lookupId },
  });
  return short.open(box);
}
