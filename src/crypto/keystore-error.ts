import { BackchannelError } from "../protocol/errors.js";

/**
 * Why a device keystore could not be used. Kept apart from the file keystore so the browser's
 * keystore can fail with the same codes and callers branch the same way on both:
 * - keystore_passphrase: the passphrase is wrong; asking again may help.
 * - keystore_corrupt: the store was damaged or tampered with; asking again will not help.
 * - keystore_missing: no store yet; the device has to be set up (or the path is wrong).
 * - keystore_exists: refusing to overwrite a store holding another identity's keys.
 * - passphrase_weak: a new store's passphrase is below the policy (`node/passphrase-policy.ts`);
 *   nothing was created.
 * - keystore_unavailable: the storage itself cannot be used (a browser without IndexedDB, a
 *   private window that refuses it, an upgrade blocked by another tab); retrying later may help.
 */
export type KeystoreErrorCode =
  | "keystore_passphrase"
  | "keystore_corrupt"
  | "keystore_missing"
  | "keystore_exists"
  | "passphrase_weak"
  | "keystore_unavailable";

export class KeystoreError extends BackchannelError {
  declare readonly code: KeystoreErrorCode;

  constructor(code: KeystoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
