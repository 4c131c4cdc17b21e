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
import { applyChanges, joinParts } from "./state-parts.js";
import type { StateStore } from "./state-store.js";

// The browser chooses its crypto here, as sdk/node.ts does for Node: the console and every other
// browser program reach the sdk through this module.
useCryptoBackend(browserCryptoBackend);

export const browserPlatform: Platform = { generateAuthKey, signAuth: signWithAuthKey };

/** One device per browser profile (or per `name`), kept in IndexedDB. */
export class IdbStateStore implements StateStore {
  private readonly keystore: IdbKeystore;
  constructor(readonly name = "backchannel") {
    this.keystore = new IdbKeystore(name);
  }
  exists(): Promise<boolean> {
    return this.keystore.exists();
  }
  private parts: Record<string, unknown> | undefined;
  async load(): Promise<Record<string, unknown>> {
    const state = await this.keystore.load();
    this.parts = { state };
    return { state: structuredClone(state) };
  }
  // The keystore still holds one whole state: the parts are kept here, joined and written whole.
  async update(changes: ReadonlyMap<string, unknown>): Promise<void> {
    if (!this.parts && (await this.keystore.exists())) await this.load();
    const parts = applyChanges(this.parts ?? {}, changes);
    await this.keystore.save(joinParts(parts));
    this.parts = parts;
  }
  clear(): Promise<void> {
    this.parts = undefined;
    return this.keystore.clear();
  }
  close(): Promise<void> {
    return this.keystore.close();
  }
}

/**
 * Throws BrowserSupportError("insecure_context") where the browser withholds WebCrypto (plain
 * http anywhere but localhost), so a page can say so before anything needs it.
 */
export function assertSecureContext(): void {
  subtle();
}

export { BrowserSupportError };
