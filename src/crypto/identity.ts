import { ed25519 } from "@noble/curves/ed25519.js";
import { canonicalJson, type Canonical } from "../protocol/canonical.js";
import { utf8 } from "../protocol/encoding.js";
import { cryptoBackend } from "./crypto-backend.js";

/**
 * Identity keys: the long-lived Ed25519 key of a handler or a mediator, which invites pin and
 * verification codes compare. Keys are made with @noble/curves everywhere; signing and verifying
 * go through the runtime's backend (crypto-backend.ts: node:crypto on Node, @noble/curves in the
 * browser). Ed25519 signatures are deterministic, so both sign the same bytes.
 */
export interface IdentityKeyPair {
  /** 32-byte RFC 8032 seed */
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateIdentityKey(): IdentityKeyPair {
  return ed25519.keygen();
}

export function identityPublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return cryptoBackend().ed25519.sign(secretKey, message);
}

/**
 * Never throws: a signature or key off the wire is attacker-controlled, and a verifier that
 * throws on bad lengths invites callers to treat "threw" differently from "invalid".
 * Every backend applies RFC 8032's strict rules (canonical encodings, no small-order keys), so
 * a signature cannot be mangled into a second valid one, and a small-order key, which would
 * "sign" many messages at once, is refused.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array)) return false;
  if (!(signature instanceof Uint8Array)) return false;
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return cryptoBackend().ed25519.verify(publicKey, message, signature);
  } catch {
    return false;
  }
}

/**
 * Domain separation: a signature made for one purpose (say an invite) must never verify as
 * another (say a roster), even over the same payload. The domain ends at the first newline, so a
 * domain may not contain one; the payload is canonical JSON so both sides sign the same bytes.
 */
export function signDomain(secretKey: Uint8Array, domain: string, payload: Canonical): Uint8Array {
  return sign(secretKey, domainMessage(domain, payload));
}

export function verifyDomain(
  publicKey: Uint8Array,
  domain: string,
  payload: Canonical,
  signature: Uint8Array,
): boolean {
  let message: Uint8Array;
  try {
    message = domainMessage(domain, payload);
  } catch {
    return false;
  }
  return verify(publicKey, message, signature);
}

// Printable ASCII without spaces, so a domain cannot smuggle a newline or look like another.
const DOMAIN = /^[\x21-\x7e]+$/;

function domainMessage(domain: string, payload: Canonical): Uint8Array {
  if (!DOMAIN.test(domain)) throw new TypeError("signature domain must be printable ASCII without spaces");
  return utf8(`${domain}\n${canonicalJson(payload)}`);
}
