import { ServerError } from "./errors.js";

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const charset = /^[A-Za-z0-9_-]*$/;

/**
 * Accepts only the canonical unpadded base64url form. Node's decoder quietly ignores stray bits
 * and a dangling character; accepting those would let two different strings stand for the same
 * bytes, so what a member gets back could differ from what was sent. Canonical means: the
 * alphabet, no length of 4n + 1 (a dangling character), and zero bits where the last character
 * holds more than the bytes need. Checked without decoding: this runs on every ciphertext.
 */
export function checkBase64Url(value: string, field: string): void {
  const tail = value.length % 4;
  const last = tail === 0 ? 0 : alphabet.indexOf(value[value.length - 1]!);
  // 2 characters carry 12 bits for 1 byte (4 spare), 3 carry 18 bits for 2 bytes (2 spare).
  const spare = tail === 2 ? 0b1111 : tail === 3 ? 0b11 : 0;
  if (tail === 1 || (last & spare) !== 0 || !charset.test(value)) {
    throw new ServerError("invalid_request", `${field}: not canonical base64url`);
  }
}

/** The bytes of a canonical base64url string (see checkBase64Url), or invalid_request. */
export function decodeBase64Url(value: string, field: string): Buffer {
  checkBase64Url(value, field);
  return Buffer.from(value, "base64url");
}
