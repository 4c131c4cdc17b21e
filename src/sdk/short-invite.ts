import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from "../protocol/index.js";
import { SdkError } from "./errors.js";

/**
 * The short form of an invite code (issue 11), for reading aloud: 20 Crockford base32 characters,
 * 100 random bits, shown as four groups of five. HKDF-SHA256 turns the code into a lookup id and
 * an AES-256-GCM key; the mediator's device seals the long invite code under the key (the lookup
 * id as associated data) and leaves the box on the relay for one take. The relay sees only the
 * lookup id and the box: it can withhold the box, not open or forge it.
 */

/** Crockford's base32: no I, L, O or U. */
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const shortCodeLength = 20;
/** 5 bits a character. */
export const shortCodeBits = shortCodeLength * 5;

const salt = utf8("backchannel short invite v1");

/** A fresh short code, in its display form (`7KQ3M-XHD9T-FAWR2-P8N4C`). */
export function newShortCode(): string {
  const random = crypto.getRandomValues(new Uint8Array(shortCodeLength));
  // 256 is a multiple of 32: each byte's low 5 bits are uniform.
  return formatShortCode(Array.from(random, (b) => alphabet[b & 31]).join(""));
}

const formatShortCode = (canonical: string): string => canonical.match(/.{5}/g)!.join("-");

/**
 * The canonical 20 characters of a typed short code, or undefined if it is not one: case, dashes
 * and spaces do not matter, and I and L read as 1, O as 0 (Crockford's rules).
 */
export function normalizeShortCode(text: string): string | undefined {
  const canonical = text.toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
  if (canonical.length !== shortCodeLength) return undefined;
  for (const c of canonical) if (!alphabet.includes(c)) return undefined;
  return canonical;
}

/** Whether `text` looks like a short code rather than a long (bc1-) one. */
export const isShortCode = (text: string): boolean => normalizeShortCode(text) !== undefined;

interface ShortCodeKeys {
  /** base64url, 32 bytes: where the relay keeps the box. */
  lookupId: string;
  key: Uint8Array<ArrayBuffer>;
}

function deriveKeys(canonical: string): ShortCodeKeys {
  const ikm = utf8(canonical);
  return {
    lookupId: toBase64Url(hkdf(sha256, ikm, salt, utf8("lookup id"), 32)),
    key: new Uint8Array(hkdf(sha256, ikm, salt, utf8("invite key"), 32)),
  };
}

/** The lookup id as associated data: a box opens only under the id it was kept under. */
const aad = (lookupId: string): Uint8Array<ArrayBuffer> => new Uint8Array(utf8(lookupId));

const importKey = (key: Uint8Array<ArrayBuffer>, use: "encrypt" | "decrypt") =>
  crypto.subtle.importKey("raw", key, "AES-GCM", false, [use]);

/** Seals a long invite code under a fresh short code: what the mediator's device uploads. */
export async function sealShortInvite(
  inviteCode: string,
): Promise<{ shortCode: string; lookupId: string; box: string }> {
  const shortCode = newShortCode();
  const { lookupId, key } = deriveKeys(normalizeShortCode(shortCode)!);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(lookupId) },
    await importKey(key, "encrypt"),
    new Uint8Array(utf8(inviteCode)),
  );
  const box = new Uint8Array(12 + sealed.byteLength);
  box.set(iv);
  box.set(new Uint8Array(sealed), 12);
  return { shortCode, lookupId, box: toBase64Url(box) };
}

/** The lookup id of a typed short code; throws invite_code_invalid if it is not one. */
export function shortCodeLookup(text: string): { lookupId: string; open(box: string): Promise<string> } {
  const canonical = normalizeShortCode(text);
  if (canonical === undefined)
    throw new SdkError(
      "invite_code_invalid",
      "not a Backchannel invite code (a long one starts with bc1-, a short one is 20 letters and digits)",
    );
  const { lookupId, key } = deriveKeys(canonical);
  return {
    lookupId,
    /** The long invite code in the box; throws invite_code_invalid if the box does not open. */
    async open(box: string): Promise<string> {
      try {
        const bytes = fromBase64Url(box);
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: aad(lookupId) },
          await importKey(key, "decrypt"),
          bytes.slice(12),
        );
        return fromUtf8(new Uint8Array(plain));
      } catch (cause) {
        throw new SdkError("invite_code_invalid", "the relay's copy of this short invite does not open", {
          cause,
        });
      }
    },
  };
}
