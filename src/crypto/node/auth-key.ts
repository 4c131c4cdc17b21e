import { createPrivateKey, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { fromBase64Url, toBase64Url } from "../../protocol/index.js";

/**
 * The device login key: Ed25519 via node:crypto, separate from the MLS signature key and the
 * handler's identity key, so a stolen session or login key never signs MLS content.
 */
export interface AuthKey {
  /** base64url raw 32-byte seed */
  secret: string;
  /** base64url raw 32-byte public key */
  publicKey: string;
}

// PKCS#8 DER header of an Ed25519 private key (RFC 8410); the 32-byte seed follows it.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export function generateAuthKey(): AuthKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const pub = publicKey.export({ format: "jwk" });
  if (!jwk.d || !pub.x) throw new Error("node:crypto did not export an Ed25519 key");
  return { secret: jwk.d, publicKey: pub.x };
}

export function signWithAuthKey(key: AuthKey, message: Uint8Array): string {
  const der = new Uint8Array(PKCS8_PREFIX.length + 32);
  der.set(PKCS8_PREFIX);
  der.set(fromBase64Url(key.secret), PKCS8_PREFIX.length);
  const privateKey = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  return toBase64Url(nodeSign(null, message, privateKey));
}
