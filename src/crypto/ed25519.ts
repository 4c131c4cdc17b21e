import { ed25519 } from "@noble/curves/ed25519.js";

/**
 * Ed25519 for identity keys (credentials, invites, proofs): synchronous, because roster checks
 * run inside synchronous code. Each runtime plugs in its own (crypto-backend.ts): node:crypto on
 * Node (crypto/node/ed25519.ts), this one wherever there is no faster synchronous choice (the
 * browser's WebCrypto is asynchronous only).
 */
export interface Ed25519 {
  /** RFC 8032 signature; `secretKey` is the 32-byte seed. Deterministic, so every backend agrees. */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /**
   * RFC 8032 with its strict rules: canonical encodings, s < L, and no small-order public key.
   * Returns false rather than throwing for anything malformed.
   */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Pure JavaScript (@noble/curves): runs anywhere, identically. */
export const nobleEd25519: Ed25519 = {
  sign: (secretKey, message) => ed25519.sign(message, secretKey),
  verify(publicKey, message, signature) {
    try {
      // zip215: false applies RFC 8032's strict rules (see identity.ts, verify, for why).
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};
