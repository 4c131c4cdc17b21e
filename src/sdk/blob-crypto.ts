import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { limits, utf8 } from "../protocol/index.js";
import { bucketSize } from "../crypto/mls/padding.js";
import { SdkError } from "./errors.js";

/**
 * An attachment's encryption (issue 12): a fresh AES-256-GCM key per file, the file padded with
 * zeros to its bucket (crypto/mls/padding.ts: the relay learns the bucket, not the size) and cut
 * into chunks of limits.blobChunkBytes. Chunk i is sealed with nonce i and, as additional data,
 * its index and whether it is the last: chunks cannot be reordered, dropped, repeated or cut
 * short without a tag failing. The key, the file's SHA-256, its size, name and type travel inside
 * the MLS message; the relay stores only the sealed chunks. Neither side holds a whole file.
 */
const CHUNK = limits.blobChunkBytes;
const TAG = 16;
const DOMAIN = utf8("backchannel-attachment-v1");

/** The bytes the relay stores for a file of `size` bytes. */
export function sealedSize(size: number): number {
  const padded = bucketSize(size);
  return padded + TAG * Math.ceil(padded / CHUNK);
}

const chunkCount = (size: number) => Math.ceil(bucketSize(size) / CHUNK);

function nonce(index: number): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(8, index);
  return n;
}

function additionalData(index: number, last: boolean): Uint8Array<ArrayBuffer> {
  const a = new Uint8Array(DOMAIN.length + 5);
  a.set(DOMAIN);
  new DataView(a.buffer).setUint32(DOMAIN.length, index);
  a[DOMAIN.length + 4] = last ? 1 : 0;
  return a;
}

export function newAttachmentKey(): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(32));
}

const importKey = (key: Uint8Array<ArrayBuffer>, use: "encrypt" | "decrypt") =>
  crypto.subtle.importKey("raw", key, "AES-GCM", false, [use]);

/** Regroups a stream of byte arrays into arrays of exactly `size` bytes (the last one shorter). */
async function* regroup(
  source: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  let buf = new Uint8Array(size);
  let at = 0;
  for await (const piece of source) {
    let from = 0;
    while (from < piece.length) {
      const n = Math.min(size - at, piece.length - from);
      buf.set(piece.subarray(from, from + n), at);
      at += n;
      from += n;
      if (at === size) {
        yield buf;
        buf = new Uint8Array(size);
        at = 0;
      }
    }
  }
  if (at > 0) yield buf.slice(0, at);
}

/** What sealing a file found: its SHA-256 (hex), known once the stream is done. */
export interface SealResult {
  sha256?: string;
}

/**
 * The sealed chunks of a file of exactly `size` bytes read from `source`; `result.sha256` is set
 * when the last chunk is out. A source of another length is refused (the file changed while it
 * was read): nothing it sealed may be used.
 */
export async function* seal(
  source: AsyncIterable<Uint8Array>,
  size: number,
  key: Uint8Array<ArrayBuffer>,
  result: SealResult,
): AsyncGenerator<Uint8Array> {
  const aes = await importKey(key, "encrypt");
  const hash = sha256.create();
  const total = chunkCount(size);
  let read = 0;
  let index = 0;
  const sealOne = async (plain: Uint8Array<ArrayBuffer>) => {
    const last = index === total - 1;
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: nonce(index), additionalData: additionalData(index, last) },
        aes,
        plain,
      ),
    );
    index++;
    return sealed;
  };
  for await (const chunk of regroup(source, CHUNK)) {
    read += chunk.length;
    if (read > size) throw new SdkError("attachment_invalid", "the file grew while it was read");
    hash.update(chunk);
    const plain =
      chunk.length === CHUNK ? chunk : padTo(chunk, Math.min(CHUNK, bucketSize(size) - index * CHUNK));
    yield await sealOne(plain);
  }
  if (read !== size) throw new SdkError("attachment_invalid", "the file changed size while it was read");
  // The padding's own chunks, all zeros, up to the bucket.
  while (index < total)
    yield await sealOne(new Uint8Array(Math.min(CHUNK, bucketSize(size) - index * CHUNK)));
  result.sha256 = bytesToHex(hash.digest());
}

function padTo(chunk: Uint8Array<ArrayBuffer>, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  out.set(chunk);
  return out;
}

/**
 * The file's bytes from its sealed chunks, checked as they come: each chunk's tag (its index
 * and whether it is the last), the padding (all zeros), the length, and at the end the SHA-256
 * the sender put in its MLS message. Anything else is `attachment_invalid`, and what was already
 * yielded must be thrown away (the CLI writes to a temporary file and renames it only after).
 */
export async function* open(
  sealed: AsyncIterable<Uint8Array>,
  ref: { size: number; sha256: string },
  key: Uint8Array<ArrayBuffer>,
): AsyncGenerator<Uint8Array> {
  const aes = await importKey(key, "decrypt");
  const hash = sha256.create();
  const total = chunkCount(ref.size);
  let index = 0;
  let left = ref.size;
  for await (const chunk of regroup(sealed, CHUNK + TAG)) {
    if (index >= total) throw new SdkError("attachment_invalid", "the blob is longer than the file it holds");
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: nonce(index), additionalData: additionalData(index, index === total - 1) },
          aes,
          chunk,
        ),
      );
    } catch {
      throw new SdkError("attachment_invalid", `the blob was altered (chunk ${index} does not verify)`);
    }
    index++;
    const content = plain.subarray(0, Math.min(left, plain.length));
    if (plain.subarray(content.length).some((b) => b !== 0))
      throw new SdkError("attachment_invalid", "the blob's padding is not zeros");
    left -= content.length;
    if (content.length) {
      hash.update(content);
      yield content;
    }
  }
  if (index !== total || left !== 0) throw new SdkError("attachment_invalid", "the blob was cut short");
  if (bytesToHex(hash.digest()) !== ref.sha256)
    throw new SdkError("attachment_invalid", "the file does not match the SHA-256 its sender gave");
}
