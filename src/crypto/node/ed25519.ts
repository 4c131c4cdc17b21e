import { ed25519 } from "@noble/curves/ed25519.js";
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { toBase64Url } from "../../protocol/encoding.js";
import { ED25519_SEED_BYTES, pkcs8ToSeed, seedToPkcs8 } from "../auth-key-format.js";
import type { Ed25519 } from "../ed25519.js";
import { KeyCache } from "../key-cache.js";
import { plainBytes } from "./plain-bytes.js";

/**
 * Ed25519 on node:crypto (OpenSSL), for identity keys and for MLS signature keys alike.
 *
 * KeyObjects are cached: OpenSSL takes about 0.5 ms to decode a PKCS#8 private key, ten times the
 * signature. These are long-lived signing keys (an identity key, a device's MLS key per caucus), not
 * the ratchet secrets whose timely erasure gives MLS its forward secrecy; those never reach here.
 * One entry per key a device holds or checks, so the bound (1,024) covers a mediator with hundreds
 * of caucuses.
 */
const privateKeys = new KeyCache<KeyObject>(1024, "secret");
const publicKeys = new KeyCache<KeyObject>(1024, "public");

/** From the 32-byte seed, or the bare PKCS#8 form of one (what WebCrypto exports). */
export function ed25519PrivateKey(secret: Uint8Array): KeyObject {
  return privateKeys.get(secret, () => {
    const der = seedToPkcs8(secret.length === ED25519_SEED_BYTES ? secret : pkcs8ToSeed(secret));
    return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  });
}

/** From the raw 32 bytes (RFC 8032 encoding). A JWK imports ten times faster than SPKI DER. */
export function ed25519PublicKey(publicKey: Uint8Array): KeyObject {
  return publicKeys.get(publicKey, () =>
    createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: toBase64Url(publicKey) }, format: "jwk" }),
  );
}

/** Remembers a key pair just generated, so its first signature does not pay for an import. */
export function rememberEd25519PrivateKey(secret: Uint8Array, key: KeyObject): void {
  privateKeys.get(secret, () => key);
}

export function signEd25519(secret: Uint8Array, message: Uint8Array): Uint8Array {
  return plainBytes(sign(null, message, ed25519PrivateKey(secret)));
}

/** OpenSSL's verification as is: what WebCrypto does under ts-mls's default provider too. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, message, ed25519PublicKey(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * OpenSSL already refuses s ≥ L and compares R byte for byte, so non-canonical signatures fail;
 * what it does not refuse is a small-order or non-canonically encoded public key. Identity keys
 * promise that refusal (identity.ts), so the key is checked with @noble/curves once and the answer
 * cached; the signature itself is OpenSSL's.
 */
const strictKeys = new KeyCache<boolean>(1024, "public");

function isStrictPublicKey(publicKey: Uint8Array): boolean {
  return strictKeys.get(publicKey, () => {
    try {
      return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
    } catch {
      return false;
    }
  });
}

export const nodeEd25519: Ed25519 = {
  sign: signEd25519,
  verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64 || !isStrictPublicKey(publicKey)) return false;
    return verifyEd25519(publicKey, message, signature);
  },
};
