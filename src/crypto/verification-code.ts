import { sha512 as nobleSha512 } from "@noble/hashes/sha2.js";
import { cryptoBackend } from "./crypto-backend.js";
import { concatBytes, utf8 } from "../protocol/encoding.js";

/**
 * Verification codes, after Signal's safety numbers: two people read the same 60 digits to each
 * other over a channel they trust (in person, a known voice) and so confirm that neither
 * identity key was swapped by the server or by whoever delivered an invite.
 *
 * Each key yields 30 digits on its own (Signal's "displayable fingerprint"); the halves are
 * ordered by key bytes, so both ends compute the same code whichever key they call "mine".
 */

const DOMAIN = utf8("backchannel-verify-v1");

/**
 * Iterating makes every attempt at a look-alike key cost 5,200 hashes; with 10^30 (about 2^100)
 * possible halves that puts a matching substitute key far out of reach. Changing it changes
 * every code, so it is part of the "v1" domain.
 */
const ITERATIONS = 5200;
const GROUPS_PER_KEY = 6;
const GROUPS_PER_LINE = 4;

/**
 * The code two devices compare, as 12 groups of 5 digits in 3 lines of 4 groups, e.g.
 * "12345 67890 12345 67890\n…". Symmetric: verificationCode(a, b) === verificationCode(b, a).
 */
export function verificationCode(keyA: Uint8Array, keyB: Uint8Array): string {
  if (keyA.length === 0 || keyB.length === 0) throw new TypeError("verification code of an empty key");
  const [first, second] = compareBytes(keyA, keyB) <= 0 ? [keyA, keyB] : [keyB, keyA];
  const groups = [...fingerprintGroups(first), ...fingerprintGroups(second)];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += GROUPS_PER_LINE) {
    lines.push(groups.slice(i, i + GROUPS_PER_LINE).join(" "));
  }
  return lines.join("\n");
}

/** H_0 = SHA-512(domain || key), H_i = SHA-512(H_{i-1} || key); 5,200 hashes in all. */
function fingerprintGroups(key: Uint8Array): string[] {
  const sha512 = cryptoBackend().sha512 ?? nobleSha512;
  let digest = sha512(concatBytes(DOMAIN, key));
  // One buffer reused across rounds: only the digest part changes.
  const round = new Uint8Array(digest.length + key.length);
  round.set(key, digest.length);
  for (let i = 1; i < ITERATIONS; i++) {
    round.set(digest, 0);
    digest = sha512(round);
  }
  const groups: string[] = [];
  for (let g = 0; g < GROUPS_PER_KEY; g++) {
    // 40 bits per group reduced mod 10^5: the bias is below 10^-7, as in Signal.
    let n = 0;
    for (let j = 0; j < 5; j++) n = n * 256 + digest[g * 5 + j]!;
    groups.push(String(n % 100_000).padStart(5, "0"));
  }
  return groups;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
