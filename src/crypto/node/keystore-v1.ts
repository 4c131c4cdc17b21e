import { createDecipheriv, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../../protocol/canonical.js";
import { utf8 } from "../../protocol/encoding.js";
import { KeystoreError } from "../keystore-error.js";
import { bytes, CHECK_BYTES, kdfParams } from "./keystore-kdf.js";

/**
 * The file keystore's first format, read only: a file in it opens as the single part "state"
 * (the whole device state), and the first write after that replaces it with the current format
 * (`keystore-log.ts`).
 *
 *   { v: 1, kdf: { name: "scrypt", salt, N, r, p }, cipher: "aes-256-gcm", check, iv, ciphertext, tag }
 *
 * All bytes base64url; one AES-256-GCM ciphertext of the state's JSON, with the header
 * `{ v: 1, cipher, kdf }` (canonical JSON) as AAD.
 */
const v1File = z.strictObject({
  v: z.literal(1),
  kdf: kdfParams,
  cipher: z.literal("aes-256-gcm"),
  check: bytes(CHECK_BYTES),
  iv: bytes(12),
  ciphertext: bytes(0, Number.MAX_SAFE_INTEGER),
  tag: bytes(16),
});
export type V1File = z.output<typeof v1File>;

export function parseV1(json: unknown, path: string): V1File {
  const result = v1File.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new KeystoreError("keystore_corrupt", `keystore at ${path} is malformed: ${issues.join("; ")}`);
  }
  return result.data;
}

/** The state's JSON text. */
export function openV1(key: KeyObject, file: V1File, path: string): string {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, file.iv, { authTagLength: 16 });
    // The header is authenticated too: otherwise an attacker with write access could, say, lower
    // N in a file the user then re-saves, or splice a ciphertext under another file's parameters.
    decipher.setAAD(utf8(canonicalJson({ v: 1, cipher: "aes-256-gcm", kdf: file.kdf })));
    decipher.setAuthTag(file.tag);
    const plaintext = Buffer.concat([decipher.update(file.ciphertext), decipher.final()]);
    const json = plaintext.toString("utf8");
    plaintext.fill(0);
    JSON.parse(json);
    return json;
  } catch (error) {
    // The passphrase check passed, so a failing tag means the bytes were changed.
    throw new KeystoreError("keystore_corrupt", `keystore at ${path} failed authentication`, {
      cause: error,
    });
  }
}
