import { AeadId, toUint8Array, type AeadEncryptionContext, type AeadInterface } from "@hpke/common";
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Aead } from "ts-mls/crypto/aead.js";
import { concatBytes } from "../../../protocol/encoding.js";
import { plainBytes } from "../plain-bytes.js";
import { promised } from "./promised.js";

const TAG_BYTES = 16;

/** AES-128-GCM, ciphertext ‖ 16-byte tag, as WebCrypto lays it out. */
function encrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv("aes-128-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
}

/** Throws unless the tag authenticates the ciphertext and AAD under this key and nonce. */
function decrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < TAG_BYTES) throw new Error("AES-GCM ciphertext shorter than its tag");
  const decipher = createDecipheriv("aes-128-gcm", key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  const head = decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES));
  return concatBytes(head, decipher.final());
}

/** For ts-mls (message content, sender data, Welcome group info). */
export const aes128Gcm: Aead = {
  encrypt: (key, nonce, aad, plaintext) => promised(() => encrypt(key, nonce, aad, plaintext)),
  decrypt: (key, nonce, aad, ciphertext) => promised(() => decrypt(key, nonce, aad, ciphertext)),
};

/** For the HPKE library (@hpke/core), which takes its AEAD as a plug-in. */
export class NodeAes128Gcm implements AeadInterface {
  readonly id = AeadId.Aes128Gcm;
  readonly keySize = 16;
  readonly nonceSize = 12;
  readonly tagSize = TAG_BYTES;

  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const rawKey = toUint8Array(key);
    return {
      seal: (iv, data, aad) =>
        promised(
          () => plainBytes(encrypt(rawKey, toUint8Array(iv), toUint8Array(aad), toUint8Array(data))).buffer,
        ),
      open: (iv, data, aad) =>
        promised(
          () => plainBytes(decrypt(rawKey, toUint8Array(iv), toUint8Array(aad), toUint8Array(data))).buffer,
        ),
    };
  }
}
