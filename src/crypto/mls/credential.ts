import { z } from "zod";
import {
  caucusId,
  deviceId,
  ed25519PublicKey,
  ed25519Signature,
  fromBase64Url,
  fromUtf8,
  inviteId,
  canonicalJson,
  toBase64Url,
  utf8,
} from "../../protocol/index.js";
import { signDomain, verifyDomain } from "../identity.js";

/**
 * A device's MLS credential (the `identity` of an MLS basic credential) is a certificate chain:
 *
 *  - mediator device: the mediator's identity key signs (device id, MLS signature key).
 *  - party device:    the mediator's key signs an invite (invite key → caucus) when it issues it;
 *                     the invite key signs the handler's identity key and device id when the
 *                     handler redeems it; the handler's key signs the device's MLS signature key.
 *
 * So any member who has pinned the mediator's key (the invite code carries it) can check every
 * leaf of a caucus without asking the server, and a device certified for caucus A can never be
 * accepted into caucus B: the invite certificate names the caucus.
 */
export const DEVICE_CERT = "backchannel-device-cert-v1";
export const INVITE_CERT = "backchannel-invite-cert-v1";
export const INVITE_USE = "backchannel-invite-use-v1";
export const CHANNEL_PROOF = "backchannel-channel-proof-v1";
/** The mediator's word that a device was removed from a caucus (the device believes only this). */
export const REMOVAL_PROOF = "backchannel-removal-proof-v1";

export const mediatorCredential = z.strictObject({
  v: z.literal(1),
  role: z.literal("mediator"),
  deviceId,
  mediatorKey: ed25519PublicKey,
  deviceSig: ed25519Signature,
});

export const partyCredential = z.strictObject({
  v: z.literal(1),
  role: z.literal("party"),
  deviceId,
  caucusId,
  handlerKey: ed25519PublicKey,
  inviteId,
  inviteKey: ed25519PublicKey,
  inviteCert: ed25519Signature,
  inviteSig: ed25519Signature,
  deviceSig: ed25519Signature,
});

export const deviceCredential = z.discriminatedUnion("role", [mediatorCredential, partyCredential]);
export type MediatorCredential = z.infer<typeof mediatorCredential>;
export type PartyCredential = z.infer<typeof partyCredential>;
export type DeviceCredential = z.infer<typeof deviceCredential>;

export function encodeCredential(c: DeviceCredential): Uint8Array {
  return utf8(canonicalJson({ ...c }));
}

/** Returns undefined for anything that is not a well-formed credential of ours. */
export function decodeCredential(identity: Uint8Array): DeviceCredential | undefined {
  try {
    const r = deviceCredential.safeParse(JSON.parse(fromUtf8(identity)));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function certifyMediatorDevice(
  mediatorSecret: Uint8Array,
  mediatorKey: Uint8Array,
  device: string,
  mlsKey: Uint8Array,
): MediatorCredential {
  const deviceSig = signDomain(mediatorSecret, DEVICE_CERT, {
    role: "mediator",
    deviceId: device,
    mlsKey: toBase64Url(mlsKey),
  });
  return {
    v: 1,
    role: "mediator",
    deviceId: device,
    mediatorKey: toBase64Url(mediatorKey),
    deviceSig: toBase64Url(deviceSig),
  };
}

/** What the mediator signs when it issues an invite; it travels inside the invite code. */
export function signInviteCert(
  mediatorSecret: Uint8Array,
  invite: { inviteId: string; inviteKey: string; caucusId: string },
): string {
  return toBase64Url(signDomain(mediatorSecret, INVITE_CERT, invite));
}

export function certifyPartyDevice(args: {
  device: string;
  caucus: string;
  handlerSecret: Uint8Array;
  handlerKey: Uint8Array;
  invite: { inviteId: string; inviteKey: string; inviteCert: string; inviteSecret: Uint8Array };
  mlsKey: Uint8Array;
}): PartyCredential {
  const handlerKey = toBase64Url(args.handlerKey);
  const inviteSig = signDomain(args.invite.inviteSecret, INVITE_USE, {
    inviteId: args.invite.inviteId,
    handlerKey,
    deviceId: args.device,
  });
  const deviceSig = signDomain(args.handlerSecret, DEVICE_CERT, {
    role: "party",
    deviceId: args.device,
    caucusId: args.caucus,
    mlsKey: toBase64Url(args.mlsKey),
  });
  return {
    v: 1,
    role: "party",
    deviceId: args.device,
    caucusId: args.caucus,
    handlerKey,
    inviteId: args.invite.inviteId,
    inviteKey: args.invite.inviteKey,
    inviteCert: args.invite.inviteCert,
    inviteSig: toBase64Url(inviteSig),
    deviceSig: toBase64Url(deviceSig),
  };
}

export interface TrustContext {
  /** The mediator's identity key, pinned from the invite code (or our own, for the mediator). */
  mediatorKey: string;
  /** The caucus whose roster is being checked. */
  caucusId: string;
}

/**
 * Verified chains, remembered: the roster is re-checked before every send and after every commit,
 * and each party leaf costs four Ed25519 verifications. Only successes are cached, keyed by
 * everything the result depends on, so a cache hit is exactly as strong as a fresh check.
 */
const verified = new Set<string>();
const VERIFIED_MAX = 4096;

/** Checks the whole chain of `c` for a leaf whose MLS signature key is `mlsKey`. */
export function verifyCredential(c: DeviceCredential, mlsKey: Uint8Array, trust: TrustContext): boolean {
  const key = canonicalJson({
    c: { ...c },
    mlsKey: toBase64Url(mlsKey),
    mediatorKey: trust.mediatorKey,
    caucusId: trust.caucusId,
  });
  if (verified.has(key)) return true;
  const ok = verifyChain(c, mlsKey, trust);
  if (ok) {
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.add(key);
  }
  return ok;
}

function verifyChain(c: DeviceCredential, mlsKey: Uint8Array, trust: TrustContext): boolean {
  const mediatorKey = fromBase64Url(trust.mediatorKey);
  if (c.role === "mediator") {
    return (
      c.mediatorKey === trust.mediatorKey &&
      verifyDomain(
        mediatorKey,
        DEVICE_CERT,
        { role: "mediator", deviceId: c.deviceId, mlsKey: toBase64Url(mlsKey) },
        fromBase64Url(c.deviceSig),
      )
    );
  }
  return (
    c.caucusId === trust.caucusId &&
    verifyDomain(
      mediatorKey,
      INVITE_CERT,
      { inviteId: c.inviteId, inviteKey: c.inviteKey, caucusId: c.caucusId },
      fromBase64Url(c.inviteCert),
    ) &&
    verifyDomain(
      fromBase64Url(c.inviteKey),
      INVITE_USE,
      { inviteId: c.inviteId, handlerKey: c.handlerKey, deviceId: c.deviceId },
      fromBase64Url(c.inviteSig),
    ) &&
    verifyDomain(
      fromBase64Url(c.handlerKey),
      DEVICE_CERT,
      { role: "party", deviceId: c.deviceId, caucusId: c.caucusId, mlsKey: toBase64Url(mlsKey) },
      fromBase64Url(c.deviceSig),
    )
  );
}

/** What a channel_info's proof is over: the caucus, its channel, and the names shown for them. */
export interface ChannelPlacement {
  caucusId: string;
  channelId: string;
  topic: string;
  partyName: string;
}

/**
 * The mediator's identity key binds a caucus to its channel, so the mediator's other devices
 * place the caucus (and convey within its channel) without trusting the relay's grouping.
 */
export function signChannelProof(mediatorSecret: Uint8Array, placement: ChannelPlacement): string {
  return toBase64Url(signDomain(mediatorSecret, CHANNEL_PROOF, { ...placement }));
}

export interface Removal {
  caucusId: string;
  deviceId: string;
}

export function signRemovalProof(mediatorSecret: Uint8Array, removal: Removal): string {
  return toBase64Url(signDomain(mediatorSecret, REMOVAL_PROOF, { ...removal }));
}

export function verifyRemovalProof(mediatorKey: string, removal: Removal, proof: string): boolean {
  try {
    return verifyDomain(fromBase64Url(mediatorKey), REMOVAL_PROOF, { ...removal }, fromBase64Url(proof));
  } catch {
    return false;
  }
}

export function verifyChannelProof(mediatorKey: string, placement: ChannelPlacement, proof: string): boolean {
  return verifyDomain(fromBase64Url(mediatorKey), CHANNEL_PROOF, { ...placement }, fromBase64Url(proof));
}
