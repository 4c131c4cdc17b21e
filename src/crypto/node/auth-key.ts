import { generateKeyPairSync } from "node:crypto";
import { fromBase64Url, toBase64Url } from "../../protocol/index.js";
import type { AuthKey } from "../auth-key-format.js";
import { signEd25519 } from "./ed25519.js";

export type { AuthKey };

/**
 * The device login key: Ed25519 via node:crypto, separate from the MLS signature key and the
 * handler's identity key, so a stolen session or login key never signs MLS content.
 */
export function generateAuthKey(): AuthKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const pub = publicKey.export({ format: "jwk" });
  if (!jwk.d || !pub.x) throw new Error("node:crypto did not export an Ed25519 key");
  return { secret: jwk.d, publicKey: pub.x };
}

export function signWithAuthKey(key: AuthKey, message: Uint8Array): string {
  return toBase64Url(signEd25519(fromBase64Url(key.secret), message));
}
