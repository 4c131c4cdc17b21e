import { concatBytes } from "../protocol/encoding.js";

/**
 * The device login key's storage format, shared by Node (node:crypto) and the browser
 * (WebCrypto), so a key made by one signs identically in the other: the secret is the raw
 * 32-byte RFC 8032 seed and the public key the raw 32 bytes, both base64url.
 */
export interface AuthKey {
  /** base64url raw 32-byte seed */
  secret: string;
  /** base64url raw 32-byte public key */
  publicKey: string;
}

export const ED25519_SEED_BYTES = 32;

// PKCS#8 DER header of an Ed25519 private key (RFC 8410); the 32-byte seed follows it. Neither
// node:crypto nor WebCrypto imports a raw Ed25519 seed, but both import this.
export const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export function seedToPkcs8(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  if (seed.length !== ED25519_SEED_BYTES) throw new TypeError("an Ed25519 seed is 32 bytes");
  return new Uint8Array(concatBytes(ED25519_PKCS8_PREFIX, seed));
}

/** The seed inside a PKCS#8 Ed25519 key, refusing anything but the one fixed layout above. */
export function pkcs8ToSeed(der: Uint8Array): Uint8Array {
  const prefix = der.subarray(0, ED25519_PKCS8_PREFIX.length);
  if (
    der.length !== ED25519_PKCS8_PREFIX.length + ED25519_SEED_BYTES ||
    !prefix.every((b, i) => b === ED25519_PKCS8_PREFIX[i])
  )
    throw new TypeError("not a bare PKCS#8 Ed25519 private key");
  return der.slice(ED25519_PKCS8_PREFIX.length);
}
