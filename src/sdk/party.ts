import {
  fromBase64Url,
  redeemSigningString,
  sha256HexOf,
  toBase64Url,
  utf8,
  type Attribution,
  type Disclosure,
  type SignalKind,
  type Stance,
} from "../protocol/index.js";
import { certifyPartyDevice } from "../crypto/mls/credential.js";
import { CaucusGroup, decodeKeyPackage, newDeviceKeys } from "../crypto/mls/caucus-group.js";
import { generateIdentityKey, sign } from "../crypto/identity.js";
import { verificationCode } from "../crypto/verification-code.js";
import { Device } from "./device.js";
import type { DeviceState, TranscriptEntry } from "./device-state.js";
import { SdkError } from "./errors.js";
import { HttpClient } from "./http-client.js";
import { redeemOnce } from "./redeem-once.js";
import { decodeInviteCode } from "./invite-code.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";
import { noStance } from "../protocol/stance.js";

export interface SignalInput {
  signalKind?: SignalKind;
  text: string;
  stance?: Partial<Stance>;
  /** Default "substance": the mediator may pass it on in its own words, not verbatim. */
  disclosure?: Disclosure;
  /** Default "party": the other side learns which party said it. */
  attribution?: Attribution;
  expiresAt?: string;
  onBehalfOf?: string;
  inReplyTo?: string;
  /**
   * Client-chosen UUIDv7 (default: a fresh one). Passing the id of a send that failed makes the
   * retry idempotent: if the server stored the first attempt, it is not stored twice.
   */
  eventId?: string;
}

export interface AcknowledgementInput {
  text?: string;
  stance?: Partial<Stance>;
  disclosure?: Disclosure;
  attribution?: Attribution;
}

/** A party handler's device: one caucus with the mediator. */
export class Party extends Device {
  /** Redeems an invite code: makes this device's keys, certifies them, and asks to be admitted. */
  static async join(opts: {
    inviteCode: string;
    name?: string;
    store: StateStore;
    platform: Platform;
    serverUrl?: string;
  }): Promise<Party> {
    const invite = decodeInviteCode(opts.inviteCode);
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
    const keyPackage = toBase64Url(keys.keyPackage);
    const signature = toBase64Url(
      sign(
        fromBase64Url(invite.inviteSecret),
        utf8(redeemSigningString(invite.inviteId, deviceId, authKey.publicKey, sha256HexOf(keys.keyPackage))),
      ),
    );
    const state: DeviceState = {
      v: 1,
      serverUrl,
      deviceId,
      role: "party",
      name: opts.name ?? "handler",
      authKey,
      identityKey: { secret: toBase64Url(handler.secretKey), publicKey: toBase64Url(handler.publicKey) },
      mediatorKey: invite.mediatorKey,
      channels: {},
      invites: {},
      joinKeys: {
        caucusId: invite.caucusId,
        keyPackage,
        initPrivateKey: toBase64Url(keys.privatePackage.initPrivateKey),
        hpkePrivateKey: toBase64Url(keys.privatePackage.hpkePrivateKey),
        signaturePrivateKey: toBase64Url(keys.privatePackage.signaturePrivateKey),
      },
      caucuses: {},
      owedReceipts: [],
    };
    await redeemOnce(opts.store, state, () =>
      new HttpClient(serverUrl).call("redeemInvite", {
        params: { inviteId: invite.inviteId },
        body: {
          deviceId,
          authPublicKey: authKey.publicKey,
          keyPackage,
          signature,
        },
      }),
    );
    return new Party(state, opts.store, opts.platform);
  }

  static async open(store: StateStore, platform: Platform): Promise<Party> {
    const state = await Device.loadState(store);
    if (state.role !== "party")
      throw new SdkError("wrong_role", "this device is a mediator's, not a party handler's");
    return new Party(state, store, platform);
  }

  get caucusId(): string {
    const id = this.state.joinKeys?.caucusId ?? Object.keys(this.state.caucuses)[0];
    if (!id) throw new SdkError("not_joined", "this device has no caucus");
    return id;
  }

  get joined(): boolean {
    return !this.state.joinKeys && Object.keys(this.state.caucuses).length > 0;
  }

  /** Code to compare with the mediator's screen (out of band) to rule out a substituted key. */
  verificationCode(): string {
    return verificationCode(
      fromBase64Url(this.state.mediatorKey),
      fromBase64Url(this.state.identityKey.publicKey),
    );
  }

  /** Joins the MLS group once the mediator has admitted this device. */
  protected override async beforeSync(): Promise<void> {
    const jk = this.state.joinKeys;
    if (!jk) return;
    // Ask whether the mediator admitted us before asking for the Welcome: polling a Welcome that
    // does not exist yet only produces 404s (which browsers log as errors).
    const { memberships } = await this.me();
    if (!memberships.some((m) => m.caucusId === jk.caucusId && m.joined)) return;
    const w = await this.fetchWelcome(jk.caucusId);
    if (!w) return;
    const group = await CaucusGroup.join(
      { mediatorKey: this.state.mediatorKey, caucusId: jk.caucusId },
      fromBase64Url(w.welcome),
      {
        publicPackage: decodeKeyPackage(fromBase64Url(jk.keyPackage)),
        privatePackage: {
          initPrivateKey: fromBase64Url(jk.initPrivateKey),
          hpkePrivateKey: fromBase64Url(jk.hpkePrivateKey),
          signaturePrivateKey: fromBase64Url(jk.signaturePrivateKey),
        },
      },
    );
    const anchor = { seq: w.seq, hash: w.hash };
    this.state.caucuses[jk.caucusId] = {
      caucusId: jk.caucusId,
      group: toBase64Url(group.serialize()),
      anchor,
      head: anchor,
      entries: [],
      outbox: {},
      removed: false,
    };
    this.state.joinKeys = undefined;
    await this.save();
  }

  protected override async afterSync(): Promise<void> {
    // Channel info from the mediator names this caucus's topic and party for display.
    for (const record of Object.values(this.state.caucuses)) {
      for (const e of record.entries) {
        const b = e.payload?.body;
        if (e.senderRole === "mediator" && b?.type === "channel_info") {
          record.topic = b.topic;
          record.partyName = b.partyName;
          record.mediatorName = b.mediatorName;
        }
      }
    }
    await this.save();
  }

  /** Waits (polling) until the mediator has admitted this device, or the timeout passes. */
  async waitUntilJoined(timeoutMs = 30_000, pollMs = 250): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await this.sync();
      if (this.joined) return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Sends a signal into this party's caucus. Defaults: stance none, disclosure substance, attribution party. */
  send(input: SignalInput): Promise<TranscriptEntry> {
    return this.exclusive(async () => {
      await this.syncUnlocked(); // joins first if the mediator admitted this device meanwhile
      return this.sendUnlocked(
        this.caucusId,
        {
          type: "signal",
          signalKind: input.signalKind ?? "notification_of_intent",
          text: input.text,
          stance: { ...noStance, ...input.stance },
          disclosure: input.disclosure ?? "substance",
          attribution: input.attribution ?? "party",
          ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
          ...(input.onBehalfOf ? { onBehalfOf: input.onBehalfOf } : {}),
          ...(input.inReplyTo ? { inReplyTo: input.inReplyTo } : {}),
        },
        input.eventId,
      );
    });
  }

  /** Acknowledges a conveyance received in this caucus, with its own (default: none) stance. */
  acknowledge(conveyanceEventId: string, input: AcknowledgementInput = {}): Promise<TranscriptEntry> {
    return this.exclusive(async () => {
      await this.syncUnlocked();
      const target = this.caucus(this.caucusId).entries.find((e) => e.eventId === conveyanceEventId);
      if (target?.payload?.body.type !== "conveyance" || target.senderRole !== "mediator")
        throw new SdkError("conveyance_unknown", "there is no conveyance with that id in this caucus");
      return this.sendUnlocked(this.caucusId, {
        type: "acknowledgement",
        conveyanceEventId,
        ...(input.text?.trim() ? { text: input.text.trim() } : {}),
        stance: { ...noStance, ...input.stance },
        disclosure: input.disclosure ?? "verbatim",
        attribution: input.attribution ?? "party",
      });
    });
  }

  /** Endorses the exact text of an understanding the mediator proposed. */
  endorse(understandingId: string): Promise<TranscriptEntry> {
    return this.exclusive(async () => {
      await this.syncUnlocked();
      const proposal = this.caucus(this.caucusId).entries.find(
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
      return this.sendUnlocked(this.caucusId, {
        type: "endorsement",
        understandingId,
        text: body.text,
        textSha256: sha256HexOf(utf8(body.text)),
      });
    });
  }
}
