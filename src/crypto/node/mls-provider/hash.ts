import { HkdfSha256Native, toUint8Array } from "@hpke/common";
import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { Hash, Kdf } from "ts-mls";
import { plainBytes } from "../plain-bytes.js";
import { hkdfExpand } from "./hkdf-expand.js";
import { promised } from "./promised.js";

const SHA256_BYTES = 32;

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array<ArrayBuffer> {
  return plainBytes(createHmac("sha256", key).update(data).digest());
}

/** SHA-256 and HMAC-SHA256, synchronous under ts-mls's asynchronous interface. */
export const sha256: Hash = {
  digest: (data) => promised(() => plainBytes(createHash("sha256").update(data).digest())),
  mac: (key, data) => promised(() => hmacSha256(key, data)),
  verifyMac: (key, mac, data) =>
    promised(() => {
      const expected = hmacSha256(key, data);
      return mac.length === expected.length && timingSafeEqual(mac, expected);
    }),
};

/**
 * HKDF-SHA256 (RFC 5869) as MLS uses it: Extract is one HMAC keyed with the salt (an empty salt
 * keys HMAC exactly as HashLen zero bytes do, RFC 5869 §2.2), Expand the RFC's loop over that HMAC.
 */
export const hkdfSha256: Kdf = {
  extract: (salt, ikm) => promised(() => hmacSha256(salt, ikm)),
  expand: (prk, info, length) => hkdfExpand((data) => hmacSha256(prk, data), SHA256_BYTES, info, length),
  size: SHA256_BYTES,
};

/**
 * The same HKDF for the HPKE library (@hpke/core), which takes its KDF as a plug-in: the labelled
 * constructions of RFC 9180 stay the library's (inherited), only the three primitives are
 * node:crypto's. Extract-and-Expand in one call is exactly `hkdfSync`.
 */
export class NodeHkdfSha256 extends HkdfSha256Native {
  override extract(
    salt: ArrayBufferLike | ArrayBufferView,
    ikm: ArrayBufferLike | ArrayBufferView,
  ): Promise<ArrayBuffer> {
    return promised(() => hmacSha256(toUint8Array(salt), toUint8Array(ikm)).buffer);
  }

  override async expand(
    prk: ArrayBufferLike | ArrayBufferView,
    info: ArrayBufferLike | ArrayBufferView,
    length: number,
  ): Promise<ArrayBuffer> {
    const key = toUint8Array(prk);
    const hmac = (data: Uint8Array) => hmacSha256(key, data);
    return (await hkdfExpand(hmac, SHA256_BYTES, toUint8Array(info), length)).buffer;
  }

  override extractAndExpand(
    salt: ArrayBufferLike | ArrayBufferView,
    ikm: ArrayBufferLike | ArrayBufferView,
    info: ArrayBufferLike | ArrayBufferView,
    length: number,
  ): Promise<ArrayBuffer> {
    return promised(() =>
      hkdfSync("sha256", toUint8Array(ikm), toUint8Array(salt), toUint8Array(info), length),
    );
  }
}
