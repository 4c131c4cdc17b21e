import { KeystoreError } from "../keystore-error.js";

/**
 * The one rule for a passphrase that protects a new keystore. The keystore applies it when it
 * creates a file, and the CLI asks it before anything else happens (a `join` with a weak
 * passphrase must fail before it spends the one-time invite), whichever way the passphrase came:
 * environment, file or prompt.
 *
 * Length only, counted in characters (code points after NFC, as the key is derived), not bytes:
 * with scrypt at N=2^17 each guess costs ~1 s of a core and 128 MiB, so 8 characters is the floor
 * that makes an offline search of a stolen file expensive; composition rules add little beyond
 * that. A keystore that already exists opens with whatever passphrase it was made with — an
 * older one under a shorter passphrase is not locked out, only no new one is made that way.
 */
export const PASSPHRASE_MIN_LENGTH = 8;

export const passphraseRule = `a keystore passphrase needs at least ${PASSPHRASE_MIN_LENGTH} characters`;

/** Throws passphrase_weak (a KeystoreError) when `passphrase` may not protect a new keystore. */
export function checkNewPassphrase(passphrase: string): void {
  const length = [...passphrase.normalize("NFC")].length;
  if (length < PASSPHRASE_MIN_LENGTH)
    throw new KeystoreError("passphrase_weak", `${passphraseRule}; this one has ${length}`);
}
