import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../../protocol/canonical.js";
import { toBase64Url, utf8 } from "../../protocol/encoding.js";
import { KeystoreError } from "../keystore-error.js";
import { bytes, CHECK_BYTES, kdfParams, type KdfParams } from "./keystore-kdf.js";

/**
 * The file keystore's format (v2): a log of sealed records, one a line, so that a save appends
 * what changed instead of rewriting the whole state.
 *
 *   {"check":…,"cipher":"aes-256-gcm","id":…,"kdf":{…},"v":2}   header (canonical JSON)
 *   <record 0>                                                    snapshot: every part
 *   <record 1>                                                    an update: parts set and deleted
 *   …
 *
 * Every line ends with "\n". A record is base64url(iv[12] ‖ ciphertext ‖ tag[16]): AES-256-GCM
 * under the scrypt-derived key of the JSON batch
 *
 *   { "set": { "<part>": <JSON value>, … }, "delete": [ "<part>", … ] }     (either may be absent)
 *
 * with a fresh random IV and, as AAD, canonicalJson({ header: <the header line>, n: <index of
 * the record, from 0>, prev: <base64url tag of record n-1, "" for record 0> }). Reading applies
 * the batches in order to nothing; record 0 is the snapshot a rewrite leaves.
 *
 * What the AAD gives (the key is the passphrase's, so nobody without it can make a record):
 * a record opens only at its own index, after its own predecessor, under its own header. So a
 * flipped bit, a record moved, repeated, removed from the middle, or taken from another file
 * (another keystore, or an earlier rewrite of this one: its chain starts from another snapshot)
 * is keystore_corrupt; so is a changed header, except that changed kdf parameters or check read
 * as a wrong passphrase, as in v1. `id` names the keystore (random, kept across rewrites), so a
 * process writing to it notices when the file at its path became another keystore.
 *
 * The one thing a reader forgives: bytes after the last "\n" are a record torn by a crash in the
 * middle of its append (an update that never resolved), and are ignored, then cut off by the
 * next writer. Cutting records off the end is thus not detected; it is what restoring an older
 * copy of the file does, which no file can detect on its own (v1 could not either).
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const NEWLINE = 0x0a;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Where a chain stands: the index the next record gets, and its predecessor's tag. */
export interface ChainPosition {
  readonly n: number;
  readonly prev: Uint8Array;
}
export const CHAIN_START: ChainPosition = { n: 0, prev: new Uint8Array(0) };

export interface LogHeader {
  /** The header line, as written: records bind it byte for byte. */
  readonly line: string;
  readonly kdf: KdfParams;
  readonly check: Uint8Array;
  readonly id: string;
}

const headerSchema = z.strictObject({
  v: z.literal(2),
  cipher: z.literal("aes-256-gcm"),
  kdf: kdfParams,
  check: bytes(CHECK_BYTES),
  id: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
});

/** A new keystore's id: 16 random bytes. */
export const newKeystoreId = () => toBase64Url(randomBytes(16));

export function makeHeader(kdf: KdfParams, check: Uint8Array, id: string): LogHeader {
  const line = canonicalJson({ v: 2, cipher: "aes-256-gcm", kdf: { ...kdf }, check: toBase64Url(check), id });
  return { line, kdf, check, id };
}

/** `json`: the first line, parsed. */
export function parseHeader(line: string, json: unknown, path: string): LogHeader {
  const result = headerSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw corrupt(path, `its header is malformed: ${issues.join("; ")}`);
  }
  return { line, kdf: result.data.kdf, check: result.data.check, id: result.data.id };
}

/** One update: the parts it sets (to their JSON text) and the parts it deletes. */
export interface Batch {
  readonly set: ReadonlyMap<string, string>;
  readonly delete: readonly string[];
}

/** The batch's JSON, built from the parts' JSON text (no second stringify of large values). */
export function encodeBatch(
  set: Iterable<readonly [string, string]>,
  deleted: readonly string[] = [],
): string {
  const fields: string[] = [];
  const entries = Array.from(set, ([key, json]) => `${JSON.stringify(key)}:${json}`);
  if (entries.length > 0) fields.push(`"set":{${entries.join(",")}}`);
  if (deleted.length > 0) fields.push(`"delete":${JSON.stringify(deleted)}`);
  return `{${fields.join(",")}}`;
}

/** Seals one record at `at`; returns its line (with its "\n") and its tag (the next one's `prev`). */
export function sealRecord(
  key: KeyObject,
  header: LogHeader,
  at: ChainPosition,
  batchJson: string,
): { line: Buffer; tag: Uint8Array } {
  // Random 96-bit IVs under one key stay safe far beyond any device's number of writes.
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(recordAad(header, at));
  const plaintext = Buffer.from(batchJson, "utf8");
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  plaintext.fill(0);
  const tag = cipher.getAuthTag();
  const line = Buffer.from(`${Buffer.concat([iv, ciphertext, tag]).toString("base64url")}\n`, "latin1");
  return { line, tag };
}

/**
 * Opens the complete records of `buf` (lines, from its start) as the chain continues from `at`.
 * `end`: the bytes they take; anything after it is a torn record (no "\n" yet).
 */
export function openRecords(
  key: KeyObject,
  header: LogHeader,
  buf: Buffer,
  at: ChainPosition,
  path: string,
): { batches: Batch[]; end: number; at: ChainPosition } {
  const batches: Batch[] = [];
  let pos = 0;
  for (let nl = buf.indexOf(NEWLINE, pos); nl !== -1; nl = buf.indexOf(NEWLINE, pos)) {
    const { batch, tag } = openRecord(key, header, at, buf.toString("latin1", pos, nl), path);
    batches.push(batch);
    at = { n: at.n + 1, prev: tag };
    pos = nl + 1;
  }
  return { batches, end: pos, at };
}

function openRecord(
  key: KeyObject,
  header: LogHeader,
  at: ChainPosition,
  text: string,
  path: string,
): { batch: Batch; tag: Uint8Array } {
  const sealed = Buffer.from(text, "base64url");
  // Node's decoder skips what is not base64url and ignores a last character's unused bits:
  // demand the one encoding of these bytes, so that no changed character goes unnoticed.
  if (!B64URL.test(text) || sealed.toString("base64url") !== text || sealed.length < IV_BYTES + TAG_BYTES)
    throw corrupt(path, `record ${at.n} is not a sealed record`);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  let json: string;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(recordAad(header, at));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([
      decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
    json = plaintext.toString("utf8");
    plaintext.fill(0);
  } catch (error) {
    // The passphrase check passed, so a failing tag means the bytes were changed or moved.
    throw corrupt(path, `record ${at.n} failed authentication`, error);
  }
  const batch = parseBatch(json);
  if (!batch) throw corrupt(path, `record ${at.n} is not a batch of parts`);
  return { batch, tag: Uint8Array.from(tag) };
}

/**
 * Checked by hand rather than with a schema: parts are read from JSON.parse's own properties, so
 * that any part name, "__proto__" too, stays a part.
 */
function parseBatch(json: string): Batch | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || Object.keys(parsed).some((k) => k !== "set" && k !== "delete")) return undefined;
  const { set = {}, delete: deleted = [] } = parsed;
  if (!isObject(set) || !Array.isArray(deleted) || !deleted.every((k) => typeof k === "string"))
    return undefined;
  const texts = new Map<string, string>();
  for (const [part, value] of Object.entries(set)) texts.set(part, JSON.stringify(value));
  return { set: texts, delete: deleted };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function recordAad(header: LogHeader, at: ChainPosition): Uint8Array {
  return utf8(canonicalJson({ header: header.line, n: at.n, prev: toBase64Url(at.prev) }));
}

function corrupt(path: string, what: string, cause?: unknown): KeystoreError {
  return new KeystoreError(
    "keystore_corrupt",
    `keystore at ${path}: ${what}`,
    cause === undefined ? undefined : { cause },
  );
}
