import { createPublicKey, verify, type KeyObject } from "node:crypto";

/** Imports a raw 32-byte Ed25519 public key (base64url); undefined if it cannot be one. */
export function ed25519PublicKey(rawBase64Url: string): KeyObject | undefined {
  if (Buffer.from(rawBase64Url, "base64url").length !== 32) return undefined;
  try {
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: rawBase64Url }, format: "jwk" });
  } catch {
    return undefined;
  }
}

/** True only for a valid signature by that key over the UTF-8 bytes of `message`. */
export function verifyEd25519(publicKey: string, message: string, signature: string): boolean {
  const key = ed25519PublicKey(publicKey);
  const sig = Buffer.from(signature, "base64url");
  if (!key || sig.length !== 64) return false;
  try {
    return verify(null, Buffer.from(message, "utf8"), key, sig);
  } catch {
    return false;
  }
}
