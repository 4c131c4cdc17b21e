import { ServerError } from "./errors.js";

/**
 * Decodes base64url, accepting only the canonical unpadded form. Node's decoder quietly ignores
 * stray bits and a dangling character; accepting those would let two different strings stand
 * for the same bytes, so what a member gets back could differ from what was sent.
 */
export function decodeBase64Url(value: string, field: string): Buffer {
  const bytes = Buffer.from(value, "base64url");
  if (bytes.toString("base64url") !== value) {
    throw new ServerError("invalid_request", `${field}: not canonical base64url`);
  }
  return bytes;
}
