import { fromBase64Url, toBase64Url } from "../protocol/encoding.js";
import { signDomain, verifyDomain } from "./identity.js";

export const ANCHOR_PROOF = "backchannel-anchor-proof-v1";

/**
 * Where a device added by a commit starts its transcript: the commit's own link (its seq and
 * chain hash) and the MLS epoch that commit opens (the epoch of the Welcome's group).
 */
export interface WelcomeAnchor {
  caucusId: string;
  epoch: number;
  seq: number;
  hash: string;
}

/**
 * The mediator's identity key signs the anchor of an add commit before posting it (the committing
 * device computes the link itself from the head it verified, and the relay appends the commit only
 * right after that head), so a joining device starts from the mediator's word, never the relay's
 * (invariant 8). The epoch ties the proof to one Welcome: a proof for another add in the same
 * caucus opens another epoch and does not fit.
 */
export function signAnchorProof(mediatorSecret: Uint8Array, anchor: WelcomeAnchor): string {
  return toBase64Url(signDomain(mediatorSecret, ANCHOR_PROOF, { ...anchor }));
}

export function verifyAnchorProof(mediatorKey: string, anchor: WelcomeAnchor, proof: string): boolean {
  return verifyDomain(fromBase64Url(mediatorKey), ANCHOR_PROOF, { ...anchor }, fromBase64Url(proof));
}
