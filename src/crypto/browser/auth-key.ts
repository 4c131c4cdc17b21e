import { pkcs8ToSeed, seedToPkcs8 } from "../auth-key-format.js";
import { fromBase64Url, toBase64Url } from "../../protocol/index.js";
import { subtle } from "./subtle.js";

/** A login key pair as device state keeps it: raw seed and raw public key, base64url. */
interface AuthKeyPair {
  secret: string;
  publicKey: string;
}

const ED25519 = { name: "Ed25519" } as const;

/**
 * The browser's login key: WebCrypto Ed25519, in the same format as Node's (raw seed and raw
 * public key, base64url), so the relay verifies both alike and device state moves between them.
 * The pair is generated extractable only to read the seed out for the device state, which the
 * store then keeps encrypted; signing imports a fresh non-extractable key each time.
 */
export async function generateAuthKey(): Promise<AuthKeyPair> {
  const pair = await subtle().generateKey(ED25519, true, ["sign", "verify"]);
  const pkcs8 = new Uint8Array(await subtle().exportKey("pkcs8", pair.privateKey));
  const publicKey = new Uint8Array(await subtle().exportKey("raw", pair.publicKey));
  return { secret: toBase64Url(pkcs8ToSeed(pkcs8)), publicKey: toBase64Url(publicKey) };
}

export async function signWithAuthKey(key: AuthKeyPair, message: Uint8Array): Promise<string> {
  const privateKey = await subtle().importKey(
    "pkcs8",
    seedToPkcs8(fromBase64Url(key.secret)),
    ED25519,
    false,
    ["sign"],
  );
  // WebCrypto takes only ArrayBuffer-backed views; copy in case `message` is a view of a shared buffer.
  const signature = await subtle().sign(ED25519, privateKey, new Uint8Array(message));
  return toBase64Url(new Uint8Array(signature));
}
