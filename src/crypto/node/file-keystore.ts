import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  scrypt,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { canonicalJson } from "../../protocol/canonical.js";
import { fromBase64Url, toBase64Url, utf8 } from "../../protocol/encoding.js";
import { KeystoreError } from "../keystore-error.js";
import { createFileExclusive, errno, writeFileAtomic } from "./atomic-file.js";
import { checkNewPassphrase } from "./passphrase-policy.js";

/**
 * One device's secrets and state (identity key, login key, MLS group state) in a single
 * passphrase-encrypted JSON file. A stolen disk, backup or synced folder yields ciphertext
 * only; the plaintext lives in this process's memory while the keystore is open.
 *
 * File (all bytes base64url):
 *   { v: 1, kdf: { name: "scrypt", salt, N, r, p }, cipher: "aes-256-gcm", check, iv, ciphertext, tag }
 * `check` tells a wrong passphrase from a damaged file: without it both are one GCM tag failure,
 * and a user would retype a correct passphrase forever at a corrupt file.
 */

/** scrypt's cost parameters: N (CPU and memory), r (block size), p (parallelism). */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

// OWASP's floor for scrypt (N=2^17, r=8, p=1): 128 MiB and about a second of one core per
// derivation — once per open for the user, once per guess for whoever holds a copy of the file.
const SCRYPT: ScryptCost = { N: 2 ** 17, r: 8, p: 1 };
// A file's own params are attacker-controlled: cap the memory and work an open can be made to
// do (16 times today's), and refuse to open anything weaker than N=2^14 (an older keystore is
// opened at its own cost, then raised to SCRYPT: see open()).
const MAX_SCRYPT_MEMORY = 256 * 2 ** 20;
const MAX_SCRYPT_WORK = 16 * SCRYPT.N * SCRYPT.r * SCRYPT.p;
const MIN_SCRYPT_N = 2 ** 14;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CHECK_BYTES = 16;

const bytes = (min: number, max = min) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return fromBase64Url(s);
      } catch {
        ctx.addIssue({ code: "custom", message: "not base64url" });
        return z.NEVER;
      }
    })
    .refine((b) => b.length >= min && b.length <= max, `expected ${min}..${max} bytes`);

const kdfParams = z
  .strictObject({
    name: z.literal("scrypt"),
    salt: z.string(),
    N: z.number().int().min(MIN_SCRYPT_N),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
  })
  .refine(({ N }) => (N & (N - 1)) === 0, "N must be a power of two")
  .refine(({ N, r }) => 128 * N * r <= MAX_SCRYPT_MEMORY, "scrypt memory above the cap")
  .refine(({ N, r, p }) => N * r * p <= MAX_SCRYPT_WORK, "scrypt work above the cap")
  .refine(({ salt }) => bytes(SALT_BYTES, 64).safeParse(salt).success, "bad salt");
type KdfParams = z.output<typeof kdfParams>;

export interface KeystoreOptions {
  /**
   * The cost a new keystore gets and an older one is raised to on open. Defaults to OWASP's floor
   * (N=2^17, r=8, p=1); only the keystore's own unit tests pass a lower one, as an argument: no
   * production caller (FileStateStore, the CLI) passes it, and nothing reads it from the
   * environment, so no setting can weaken a real keystore. It must still be a cost open() accepts.
   */
  scrypt?: ScryptCost;
}

function targetCost(options: KeystoreOptions): ScryptCost {
  const cost = options.scrypt ?? SCRYPT;
  if (
    !kdfParams.safeParse({ name: "scrypt", salt: toBase64Url(new Uint8Array(SALT_BYTES)), ...cost }).success
  )
    throw new TypeError("scrypt cost outside what a keystore may use");
  return cost;
}

/** Below `cost` in memory or in work: a file made before the floor was raised. */
const weakerThan = (kdf: KdfParams, cost: ScryptCost) =>
  kdf.N * kdf.r < cost.N * cost.r || kdf.N * kdf.r * kdf.p < cost.N * cost.r * cost.p;

const newKdf = (cost: ScryptCost): KdfParams => ({
  name: "scrypt",
  salt: toBase64Url(randomBytes(SALT_BYTES)),
  N: cost.N,
  r: cost.r,
  p: cost.p,
});

const keystoreFile = z.strictObject({
  v: z.literal(1),
  kdf: kdfParams,
  cipher: z.literal("aes-256-gcm"),
  check: bytes(CHECK_BYTES),
  iv: bytes(IV_BYTES),
  ciphertext: bytes(0, Number.MAX_SAFE_INTEGER),
  tag: bytes(TAG_BYTES),
});

export class FileKeystore {
  // Serialises writes: each one lands after the one before, so the last write() called wins.
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly kdf: KdfParams,
    private readonly check: Uint8Array,
    // The derived key is kept (not the passphrase): writes then cost one AES pass, not a scrypt.
    private readonly key: KeyObject,
    private json: string,
  ) {}

  /**
   * Creates a new keystore holding `initial`; throws keystore_exists rather than overwrite one,
   * and passphrase_weak for a passphrase below the policy (`passphrase-policy.ts`).
   */
  static async create(
    path: string,
    passphrase: string,
    initial: unknown,
    options: KeystoreOptions = {},
  ): Promise<FileKeystore> {
    checkNewPassphrase(passphrase);
    const json = toJson(initial);
    const kdf = newKdf(targetCost(options));
    const { key, check } = await deriveKeys(passphrase, kdf);
    const store = new FileKeystore(path, kdf, check, key, json);
    if (!(await createFileExclusive(path, store.seal(json)))) {
      throw new KeystoreError("keystore_exists", `a keystore already exists at ${path}`);
    }
    return store;
  }

  /**
   * Opens a keystore with its passphrase, whatever the passphrase policy says today (a keystore
   * made under an older policy is not locked out). A keystore derived at less than today's cost
   * is re-encrypted at that cost under a fresh salt, with the same passphrase, by one atomic
   * replace: a crash at any point leaves the old file or the new one, both openable.
   */
  static async open(path: string, passphrase: string, options: KeystoreOptions = {}): Promise<FileKeystore> {
    const cost = targetCost(options);
    let raw: string;
    try {
      raw = await readFile(path, "utf8");
    } catch (error) {
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") {
        throw new KeystoreError("keystore_missing", `no keystore at ${path}`, { cause: error });
      }
      throw error; // EACCES, EIO…: not a property of the file's contents, so not "corrupt"
    }
    const file = parseFile(raw, path);
    const { key, check } = await deriveKeys(passphrase, file.kdf);
    if (!timingSafeEqual(check, file.check)) {
      throw new KeystoreError("keystore_passphrase", "wrong passphrase for this keystore");
    }
    const json = openSealed(key, file, path);
    if (!weakerThan(file.kdf, cost)) return new FileKeystore(path, file.kdf, check, key, json);

    const kdf = newKdf(cost);
    const stronger = await deriveKeys(passphrase, kdf);
    const upgraded = new FileKeystore(path, kdf, stronger.check, stronger.key, json);
    // Another process may have written a newer state since we read the file (two commands of
    // one device at once); replacing it with ours would lose that write. Then leave the file to
    // the next open, and keep using it at its own cost.
    if ((await readFile(path, "utf8")) !== raw) return new FileKeystore(path, file.kdf, check, key, json);
    await writeFileAtomic(path, upgraded.seal(json));
    return upgraded;
  }

  /**
   * A fresh copy of the stored value each call, so nobody mutates the state behind write().
   * `unknown` on purpose: callers validate it with their schema like any outside input.
   */
  read(): unknown {
    return JSON.parse(this.json);
  }

  /** Encrypts under a fresh IV and atomically replaces the file; read() sees it once it resolves. */
  async write(value: unknown): Promise<void> {
    // Everything up to the await runs at call time: the value is snapshotted (later mutation by
    // the caller must not leak in) and the write queued in call order.
    const json = toJson(value);
    const run = this.queue.then(async () => {
      await writeFileAtomic(this.path, this.seal(json));
      this.json = json;
    });
    this.queue = run.catch(() => undefined);
    await run;
  }

  private seal(json: string): string {
    // Random 96-bit IVs under one key stay safe far beyond any device's number of writes.
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(headerAad(this.kdf));
    const plaintext = Buffer.from(json, "utf8");
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    plaintext.fill(0);
    const file = {
      v: 1,
      kdf: this.kdf,
      cipher: "aes-256-gcm",
      check: toBase64Url(this.check),
      iv: toBase64Url(iv),
      ciphertext: toBase64Url(ciphertext),
      tag: toBase64Url(cipher.getAuthTag()),
    };
    return `${JSON.stringify(file, null, 1)}\n`;
  }
}

/**
 * The header is authenticated too: otherwise an attacker with write access could, say, lower N
 * in a file the user then re-saves, or splice a ciphertext under another file's parameters.
 */
function headerAad(kdf: KdfParams): Uint8Array {
  return utf8(canonicalJson({ v: 1, cipher: "aes-256-gcm", kdf }));
}

function openSealed(key: KeyObject, file: z.output<typeof keystoreFile>, path: string): string {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, file.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(headerAad(file.kdf));
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

function parseFile(raw: string, path: string): z.output<typeof keystoreFile> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new KeystoreError("keystore_corrupt", `keystore at ${path} is not JSON`, { cause: error });
  }
  const result = keystoreFile.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new KeystoreError("keystore_corrupt", `keystore at ${path} is malformed: ${issues.join("; ")}`);
  }
  return result.data;
}

/**
 * One scrypt call, 48 bytes out: the AES key, then the passphrase check. scrypt's output is
 * PBKDF2-HMAC blocks, each an independent PRF output, so storing bytes 32..47 reveals nothing
 * about bytes 0..31; it only lets a guesser do what the GCM tag already lets them do.
 */
async function deriveKeys(
  passphrase: string,
  kdf: KdfParams,
): Promise<{ key: KeyObject; check: Uint8Array }> {
  // NFC: the same passphrase typed on two systems may arrive composed or decomposed.
  const secret = Buffer.from(passphrase.normalize("NFC"), "utf8");
  const out = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      secret,
      fromBase64Url(kdf.salt),
      32 + CHECK_BYTES,
      // Node's default maxmem (32 MiB) is far below what N=2^17, r=8 needs (128 MiB).
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 2 * 128 * kdf.N * kdf.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
  secret.fill(0);
  const key = createSecretKey(out.subarray(0, 32));
  const check = Uint8Array.from(out.subarray(32));
  out.fill(0);
  return { key, check };
}

function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError("keystore value is not JSON-serialisable");
  return json;
}
