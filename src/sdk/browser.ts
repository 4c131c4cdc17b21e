/**
 * The sdk's browser adapters (`backchannel/sdk/browser`), beside the Node ones in ./node.ts: the
 * login key on WebCrypto Ed25519, and device state in IndexedDB encrypted under a non-extractable
 * WebCrypto key. Everything else in the sdk runs unchanged in both.
 */
import { generateAuthKey, signWithAuthKey } from "../crypto/browser/auth-key.js";
import { IdbKeystore } from "../crypto/browser/idb-keystore.js";
import { BrowserSupportError, subtle } from "../crypto/browser/subtle.js";
import type { Platform } from "./platform.js";
import { applyChanges, joinParts } from "./state-parts.js";
import type { StateStore } from "./state-store.js";

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
  async load(): Promise<Record<string, unknown>> {
    return { state: await this.keystore.load() };
  }
  // The keystore still holds one whole state: the parts are joined and written whole.
  async update(changes: ReadonlyMap<string, unknown>): Promise<void> {
    const parts = (await this.keystore.exists()) ? await this.load() : {};
    await this.keystore.save(joinParts(applyChanges(parts, changes)));
  }
  clear(): Promise<void> {
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
