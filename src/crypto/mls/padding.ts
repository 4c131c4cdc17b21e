import { BackchannelError } from "../../protocol/index.js";

/**
 * Application plaintexts are padded to power-of-two buckets (at least 512 bytes) before MLS
 * encrypts them, so the server sees one of a few sizes rather than the length of each signal.
 */
const MIN_BUCKET = 512;

export function bucketSize(length: number): number {
  let size = MIN_BUCKET;
  while (size < length) size *= 2;
  return size;
}

export function pad(plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(bucketSize(plaintext.length + 4));
  new DataView(out.buffer).setUint32(0, plaintext.length);
  out.set(plaintext, 4);
  return out;
}

export function unpad(padded: Uint8Array): Uint8Array {
  if (padded.length < 4) throw new BackchannelError("padding_invalid", "padded message too short");
  const length = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(0);
  if (length > padded.length - 4)
    throw new BackchannelError("padding_invalid", "padded message length out of range");
  for (let i = 4 + length; i < padded.length; i++)
    if (padded[i] !== 0) throw new BackchannelError("padding_invalid", "non-zero padding");
  return padded.slice(4, 4 + length);
}
