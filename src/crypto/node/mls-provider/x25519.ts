import type { MontgomeryECDH } from "@hpke/common";
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomFillSync,
  type KeyObject,
} from "node:crypto";
import { concatBytes, toBase64Url } from "../../../protocol/encoding.js";
import { plainBytes } from "../plain-bytes.js";
import { promised } from "./promised.js";

const X25519_BYTES = 32;

// PKCS#8 DER header of an X25519 private key (RFC 8410); the 32 raw bytes follow. node:crypto
// imports a raw private key only this way (a JWK would need the public key, which we lack).
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

function length32(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length !== X25519_BYTES) throw new Error(`an X25519 ${what} is ${X25519_BYTES} bytes`);
  return bytes;
}

/**
 * Not cached, unlike signature keys: these are TreeKEM and HPKE keys, replaced at every commit,
 * and keeping them past their use would undo the forward secrecy their replacement buys.
 */
function privateKey(secret: Uint8Array): KeyObject {
  const der = concatBytes(X25519_PKCS8_PREFIX, length32(secret, "private key"));
  return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
}

function publicKey(u: Uint8Array): KeyObject {
  const x = toBase64Url(length32(u, "public key"));
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
}

function rawPublicKey(secret: Uint8Array): Uint8Array {
  const { x } = createPublicKey(privateKey(secret)).export({ format: "jwk" });
  if (typeof x !== "string") throw new Error("node:crypto did not export an X25519 public key");
  return plainBytes(Buffer.from(x, "base64url"));
}

/** OpenSSL refuses an all-zero result (a small-order peer key), as RFC 9180 §7.1.4 requires. */
function sharedSecret(secret: Uint8Array, peer: Uint8Array): Uint8Array {
  return plainBytes(diffieHellman({ privateKey: privateKey(secret), publicKey: publicKey(peer) }));
}

function randomSecret(): Uint8Array {
  return randomFillSync(new Uint8Array(X25519_BYTES));
}

/**
 * X25519 (RFC 7748) on node:crypto, in the shape the HPKE library's generic X-curve DHKEM takes
 * (@hpke/common `XCurveDhkemPrimitives`, which brings DeriveKeyPair, serialisation and the rest of
 * RFC 9180's DHKEM). Keys cross this interface as raw bytes.
 */
export const x25519: MontgomeryECDH = {
  getPublicKey: rawPublicKey,
  scalarMultBase: rawPublicKey,
  getSharedSecret: sharedSecret,
  scalarMult: sharedSecret,
  utils: { randomSecretKey: (seed) => promised(() => (seed ? length32(seed, "seed") : randomSecret())) },
  GuBytes: Uint8Array.from({ length: X25519_BYTES }, (_, i) => (i === 0 ? 9 : 0)),
  lengths: { secretKey: X25519_BYTES, publicKey: X25519_BYTES, seed: X25519_BYTES },
  keygen(seed) {
    const secretKey = seed ? length32(seed, "seed") : randomSecret();
    return { secretKey, publicKey: rawPublicKey(secretKey) };
  },
};
