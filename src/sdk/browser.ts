/**
 * The sdk's browser adapters (`backchannel/sdk/browser`), beside the Node ones in ./node.ts: the
 * login key on WebCrypto Ed25519, device state in IndexedDB encrypted under a non-extractable
 * WebCrypto key, and MLS on WebCrypto (crypto/browser/backend.ts). Everything else in the sdk runs
 * unchanged in both.
 */
import { generateAuthKey, signWithAuthKey } from "../crypto/browser/auth-key.js";
import { browserCryptoBackend } from "../crypto/browser/backend.js";
import { IdbKeystore } from "../crypto/browser/idb-keystore.js";
import { BrowserSupportError, subtle } from "../crypto/browser/subtle.js";
import { useCryptoBackend } from "../crypto/crypto-backend.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";

// The browser chooses its crypto here, as sdk/node.ts does for Node: the console and every other
// browser program reach the sdk through this module.
useCryptoBackend(browserCryptoBackend);

export const browserPlatform: Platform = { generateAuthKey, signAuth: signWithAuthKey };

/**
 * One device per browser profile (or per `name`), kept in IndexedDB one record per part, so a
 * save writes what changed (`crypto/browser/idb-keystore.ts`).
 */
export class IdbStateStore extends IdbKeystore implements StateStore {}

/**
 * Throws BrowserSupportError("insecure_context") where the browser withholds WebCrypto (plain
 * http anywhere but localhost), so a page can say so before anything needs it.
 */
export function assertSecureContext(): void {
  subtle();
}

export { BrowserSupportError };
