/**
 * HKDF-Expand (RFC 5869 §2.3) over an HMAC keyed with the PRK:
 *
 *   T(0) = empty;  T(i) = HMAC(PRK, T(i-1) | info | i);  OKM = first L bytes of T(1) | T(2) | …
 *
 * Written out because node:crypto offers no Expand on its own (`hkdfSync` is Extract-then-Expand,
 * as is WebCrypto's HKDF), and MLS expands secrets that are already pseudorandom (ExpandWithLabel,
 * DeriveTreeSecret). Only the loop is ours; the HMAC is OpenSSL's. Checked against RFC 5869's test
 * vectors (which give the PRK) and every MLS vector that derives a key.
 */
export async function hkdfExpand(
  hmac: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>,
  hashLength: number,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLength)
    throw new RangeError(`HKDF-Expand cannot produce ${length} bytes`);
  const okm = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  for (let block = 1, filled = 0; filled < length; block++) {
    const input = new Uint8Array(previous.length + info.length + 1);
    input.set(previous, 0);
    input.set(info, previous.length);
    input[input.length - 1] = block;
    previous = await hmac(input);
    okm.set(previous.subarray(0, length - filled), filled);
    filled += previous.length;
  }
  return okm;
}
