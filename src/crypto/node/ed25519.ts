import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { toBase64Url } from "../../protocol/encoding.js";
import { ED25519_SEED_BYTES, pkcs8ToSeed, seedToPkcs8 } from "../auth-key-format.js";
import { KeyCache } from "../key-cache.js";
import { plainBytes } from "./plain-bytes.js";

/**
 * Ed25519 on node:crypto (OpenSSL), for MLS signature keys.
 *
 * KeyObjects are cached: OpenSSL takes about 0.5 ms to decode a PKCS#8 private key, ten times the
 * signature. These are long-lived signing keys (a device's MLS key, one per caucus), not
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
