import { sha256 } from "@noble/hashes/sha2.js";
import { toBase64Url } from "../protocol/encoding.js";

/**
 * Imported keys (node:crypto KeyObjects, WebCrypto CryptoKeys), remembered by the bytes they were
 * imported from. Importing is what costs: node:crypto decodes a PKCS#8 Ed25519 key in about half a
 * millisecond, ten times the signature itself, and WebCrypto pays a promise round trip besides.
 *
 * Keyed by content, never by array identity: ts-mls zeroes some secrets in place once used, and an
 * identity key would then hand back the key for bytes that no longer exist. A secret is looked up
 * by its SHA-256, so the cache holds no copy of the secret as a string (strings cannot be wiped and
 * end up in heap snapshots); a public key by its own bytes. Bounded, dropping the least recently
 * used, so a long-running device does not keep every key it ever saw.
 */
export class KeyCache<K> {
  private readonly entries = new Map<string, K>();

  constructor(
    private readonly max: number,
    private readonly kind: "secret" | "public",
  ) {}

  get(bytes: Uint8Array, make: () => K): K {
    const id = this.kind === "secret" ? toBase64Url(sha256(bytes)) : toBase64Url(bytes);
    const hit = this.entries.get(id);
    if (hit !== undefined) {
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const made = make();
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(id, made);
    return made;
  }
}
