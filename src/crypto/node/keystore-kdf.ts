import { createSecretKey, randomBytes, scrypt, type KeyObject } from "node:crypto";
import { z } from "zod";
import { fromBase64Url, toBase64Url } from "../../protocol/encoding.js";

/**
 * The file keystore's key derivation: scrypt from the passphrase, under parameters the file
 * records (and an attacker who can write the file controls, hence the caps).
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
// opened at its own cost, then raised to SCRYPT: see FileKeystore.open()).
const MAX_SCRYPT_MEMORY = 256 * 2 ** 20;
const MAX_SCRYPT_WORK = 16 * SCRYPT.N * SCRYPT.r * SCRYPT.p;
const MIN_SCRYPT_N = 2 ** 14;
const SALT_BYTES = 16;
export const CHECK_BYTES = 16;

/** A base64url string of `min`..`max` bytes, decoded. */
export const bytes = (min: number, max = min) =>
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

export const kdfParams = z
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
export type KdfParams = z.output<typeof kdfParams>;

/** The cost a new keystore gets and an older one is raised to (see KeystoreOptions.scrypt). */
export function targetCost(cost: ScryptCost = SCRYPT): ScryptCost {
  if (
    !kdfParams.safeParse({ name: "scrypt", salt: toBase64Url(new Uint8Array(SALT_BYTES)), ...cost }).success
  )
    throw new TypeError("scrypt cost outside what a keystore may use");
  return cost;
}

/** Below `cost` in memory or in work: a file made before the floor was raised. */
export const weakerThan = (kdf: KdfParams, cost: ScryptCost) =>
  kdf.N * kdf.r < cost.N * cost.r || kdf.N * kdf.r * kdf.p < cost.N * cost.r * cost.p;

export const newKdf = (cost: ScryptCost): KdfParams => ({
  name: "scrypt",
  salt: toBase64Url(randomBytes(SALT_BYTES)),
  N: cost.N,
  r: cost.r,
  p: cost.p,
});

export const sameKdf = (a: KdfParams, b: KdfParams) =>
  a.salt === b.salt && a.N === b.N && a.r === b.r && a.p === b.p;

export interface DerivedKeys {
  /** The AES-256-GCM key. */
  key: KeyObject;
  /** Stored in the file: tells a wrong passphrase from a damaged file. */
  check: Uint8Array;
}

/**
 * One scrypt call, 48 bytes out: the AES key, then the passphrase check. scrypt's output is
 * PBKDF2-HMAC blocks, each an independent PRF output, so storing bytes 32..47 reveals nothing
 * about bytes 0..31; it only lets a guesser do what the GCM tag already lets them do.
 */
export async function deriveKeys(passphrase: string, kdf: KdfParams): Promise<DerivedKeys> {
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
