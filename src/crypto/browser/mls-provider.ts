import { defaultCryptoProvider, type CryptoProvider, type Signature } from "ts-mls";
import { ED25519_SEED_BYTES, pkcs8ToSeed, seedToPkcs8 } from "../auth-key-format.js";
import { KeyCache } from "../key-cache.js";
import { CIPHER_SUITE } from "../mls/suite.js";
import { subtle } from "./subtle.js";

/**
 * Signature keys imported once. ts-mls's default provider imports the device's MLS signature key
 * (PKCS#8) for every message it signs, and the sender's public key for every message it checks;
 * the import costs more than the signature. These are long-lived keys (one per device and caucus),
 * so keeping the imported, non-extractable CryptoKey is as safe as keeping the bytes it came from.
 */
const signKeys = new KeyCache<Promise<CryptoKey>>(1024, "secret");
const verifyKeys = new KeyCache<Promise<CryptoKey>>(1024, "public");

export const webCryptoSignature: Signature = {
  async sign(signKey, message) {
    const key = await signKeys.get(signKey, () => {
      // A 32-byte seed (the test vectors' form) or the bare PKCS#8 the default provider stores.
      const der = seedToPkcs8(signKey.length === ED25519_SEED_BYTES ? signKey : pkcs8ToSeed(signKey));
      return subtle().importKey("pkcs8", der, "Ed25519", false, ["sign"]);
    });
    return new Uint8Array(await subtle().sign("Ed25519", key, new Uint8Array(message)));
  },
  async verify(publicKey, message, signature) {
    const key = await verifyKeys.get(publicKey, () =>
      subtle().importKey("raw", new Uint8Array(publicKey), "Ed25519", false, ["verify"]),
    );
    return subtle().verify("Ed25519", key, new Uint8Array(signature), new Uint8Array(message));
  },
  async keygen() {
    const pair = await subtle().generateKey("Ed25519", true, ["sign", "verify"]);
    return {
      signKey: new Uint8Array(await subtle().exportKey("pkcs8", pair.privateKey)),
      publicKey: new Uint8Array(await subtle().exportKey("raw", pair.publicKey)),
    };
  },
};

/**
 * ts-mls's crypto on WebCrypto for the browser: the default provider (WebCrypto already, through
 * @hpke/core) with signature keys imported once. The other keys it imports (AES-GCM, HMAC) come
 * from the secret tree's ratchet and serve one message each: keeping them imported would keep
 * secrets that MLS erases for forward secrecy, so they are imported per use, as before. Any other
 * suite is the default provider's.
 */
export const webCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs) {
    const base = await defaultCryptoProvider.getCiphersuiteImpl(cs);
    return cs.name === CIPHER_SUITE ? { ...base, signature: webCryptoSignature } : base;
  },
};
