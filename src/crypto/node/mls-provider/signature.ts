import { generateKeyPairSync } from "node:crypto";
import type { Signature } from "ts-mls";
import { rememberEd25519PrivateKey, signEd25519, verifyEd25519 } from "../ed25519.js";
import { plainBytes } from "../plain-bytes.js";
import { promised } from "./promised.js";

/**
 * MLS signature keys on node:crypto. A new key's private half is stored as bare PKCS#8, exactly
 * what ts-mls's default provider stores (it exports WebCrypto keys that way), so group state
 * moves between providers unchanged; a 32-byte seed (the test vectors' form) signs as well.
 */
export const ed25519Signature: Signature = {
  sign: (signKey, message) => promised(() => signEd25519(signKey, message)),
  verify: (publicKey, message, signature) => promised(() => verifyEd25519(publicKey, message, signature)),
  keygen: () => promised(generateEd25519),
};

function generateEd25519(): { signKey: Uint8Array; publicKey: Uint8Array } {
  const pair = generateKeyPairSync("ed25519");
  const signKey = plainBytes(pair.privateKey.export({ format: "der", type: "pkcs8" }));
  const { x } = pair.publicKey.export({ format: "jwk" });
  if (typeof x !== "string") throw new Error("node:crypto did not export an Ed25519 public key");
  rememberEd25519PrivateKey(signKey, pair.privateKey);
  return { signKey, publicKey: plainBytes(Buffer.from(x, "base64url")) };
}
