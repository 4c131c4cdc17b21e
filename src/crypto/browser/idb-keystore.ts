import { z } from "zod";
import { KeystoreError } from "../keystore-error.js";
import { fromUtf8 } from "../../protocol/index.js";
import { subtle } from "./subtle.js";

/**
 * A browser device's state in IndexedDB, encrypted under an AES-GCM key that no script can read:
 * the CryptoKey is generated non-extractable and stored as the key object itself (IndexedDB
 * structured-clones it). Script in the page, injected script included, can use the key while it
 * runs here but never carry the key bytes away, and whatever reads the records through the
 * browser gets ciphertext only. Not covered: the browser keeps the key material in its profile on
 * disk, so a copy of the whole profile holds both; that is the operating system's disk
 * encryption's job.
 *
 * One object store, two records:
 *   "state-key": { id, key }            the AES-GCM 256 key and a random id naming it
 *   "state":     { v, keyId, iv, ciphertext }   JSON of the device state, fresh 12-byte IV per save
 * `clear()` deletes the key with the state: without it, any copy of the ciphertext is noise.
 *
 * Failures use the file keystore's codes (KeystoreError), so callers branch the same way on both.
 */
const OBJECT_STORE = "device";
const KEY_RECORD = "state-key";
const STATE_RECORD = "state";
const IV_BYTES = 12;
// Binds the ciphertext to its purpose: a ciphertext made under this key for anything else fails.
const AAD = new TextEncoder().encode("backchannel/device-state/v1");

const keyRecord = z.strictObject({ id: z.string().min(1), key: z.instanceof(CryptoKey) });
type KeyRecord = z.infer<typeof keyRecord>;

const sealedState = z.strictObject({
  v: z.literal(1),
  keyId: z.string().min(1),
  iv: z.instanceof(Uint8Array).refine((iv) => iv.length === IV_BYTES),
  ciphertext: z.instanceof(Uint8Array),
});
type SealedState = z.infer<typeof sealedState>;

const corrupt = (message: string, cause?: unknown) =>
  new KeystoreError("keystore_corrupt", message, cause === undefined ? undefined : { cause });

export class IdbKeystore {
  private db: Promise<IDBDatabase> | undefined;
  private key: KeyRecord | undefined;
  // One operation at a time: a slow encryption must not let an older state overwrite a newer one.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly name = "backchannel") {}

  exists(): Promise<boolean> {
    return this.serial(async () => (await this.read(STATE_RECORD)) !== undefined);
  }

  load(): Promise<unknown> {
    return this.serial(async () => {
      const stored = await this.read(STATE_RECORD);
      if (stored === undefined)
        throw new KeystoreError("keystore_missing", "this browser holds no device yet");
      const sealed = sealedState.safeParse(stored);
      if (!sealed.success) throw corrupt("the stored device state is damaged", sealed.error);
      const storedKey = keyRecord.safeParse(await this.read(KEY_RECORD));
      if (!storedKey.success || storedKey.data.id !== sealed.data.keyId)
        throw corrupt("the key that encrypts this device's state is gone or was replaced");
      let plaintext: ArrayBuffer;
      try {
        plaintext = await subtle().decrypt(
          { name: "AES-GCM", iv: new Uint8Array(sealed.data.iv), additionalData: AAD },
          storedKey.data.key,
          new Uint8Array(sealed.data.ciphertext),
        );
      } catch (cause) {
        throw corrupt("the stored device state does not decrypt (damaged or tampered with)", cause);
      }
      try {
        return JSON.parse(fromUtf8(new Uint8Array(plaintext))) as unknown;
      } catch (cause) {
        throw corrupt("the stored device state is not readable", cause);
      }
    });
  }

  save(state: unknown): Promise<void> {
    return this.serial(async () => {
      const { id, key } = await this.stateKey();
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const ciphertext = new Uint8Array(
        await subtle().encrypt(
          { name: "AES-GCM", iv, additionalData: AAD },
          key,
          new TextEncoder().encode(JSON.stringify(state)),
        ),
      );
      const sealed: SealedState = { v: 1, keyId: id, iv, ciphertext };
      await this.transaction("readwrite", (store, abort) => {
        // Checked in the same transaction as the write: if another tab cleared this store (and a
        // new key may exist), writing under our old key would leave state nobody can decrypt.
        const current = store.get(KEY_RECORD);
        current.onsuccess = () => {
          const k = keyRecord.safeParse(current.result);
          if (!k.success || k.data.id !== id)
            return abort(
              new KeystoreError("keystore_missing", "this device's storage was cleared (in another tab?)"),
            );
          store.put(sealed, STATE_RECORD);
        };
      });
    });
  }

  /** Forgets the device: deletes its state and the key, so no copy of the ciphertext can be opened. */
  clear(): Promise<void> {
    return this.serial(async () => {
      this.key = undefined;
      await this.transaction("readwrite", (store) => {
        store.delete(STATE_RECORD);
        store.delete(KEY_RECORD);
      });
    });
  }

  /** Closes the database connection (another tab can then delete or upgrade it). */
  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.key = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The state key, made on first use. Made once even with several tabs: `add` refuses a second. */
  private async stateKey(): Promise<KeyRecord> {
    if (this.key) return this.key;
    const stored = await this.read(KEY_RECORD);
    if (stored !== undefined) {
      const k = keyRecord.safeParse(stored);
      if (!k.success) throw corrupt("the stored state key is damaged", k.error);
      return (this.key = k.data);
    }
    const candidate: KeyRecord = {
      id: crypto.randomUUID(),
      key: await subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
    };
    try {
      await this.transaction("readwrite", (store) => store.add(candidate, KEY_RECORD));
      return (this.key = candidate);
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "ConstraintError")) throw e;
      return this.stateKey(); // another tab won the race; use its key
    }
  }

  private async read(record: string): Promise<unknown> {
    let value: unknown;
    await this.transaction("readonly", (store) => {
      const request = store.get(record);
      request.onsuccess = () => (value = request.result as unknown);
    });
    return value;
  }

  /** Runs `fill` in one transaction; resolves when it commits, rejects with why it aborted. */
  private async transaction(
    mode: IDBTransactionMode,
    fill: (store: IDBObjectStore, abort: (reason: Error) => void) => void,
  ): Promise<void> {
    const db = await this.open();
    return new Promise<void>((resolve, reject) => {
      let reason: Error | undefined;
      const tx = db.transaction(OBJECT_STORE, mode);
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(reason ?? tx.error ?? new KeystoreError("keystore_unavailable", "aborted"));
      // An error on a request (a ConstraintError from add) aborts the transaction: report that error.
      tx.onerror = (ev) => {
        reason ??= (ev.target as IDBRequest | null)?.error ?? undefined;
      };
      fill(tx.objectStore(OBJECT_STORE), (why) => {
        reason = why;
        tx.abort();
      });
    });
  }

  private open(): Promise<IDBDatabase> {
    if (this.db) return this.db;
    const opening = new Promise<IDBDatabase>((resolve, reject) => {
      if (typeof indexedDB === "undefined")
        return reject(new KeystoreError("keystore_unavailable", "this browser offers no IndexedDB"));
      const request = indexedDB.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(OBJECT_STORE);
      request.onsuccess = () => {
        const db = request.result;
        // Let another tab delete or upgrade the database instead of hanging on our connection.
        db.onversionchange = () => {
          db.close();
          if (this.db === opening) this.db = undefined;
        };
        resolve(db);
      };
      request.onerror = () =>
        reject(
          new KeystoreError("keystore_unavailable", "IndexedDB refused to open the device store", {
            cause: request.error,
          }),
        );
      request.onblocked = () =>
        reject(
          new KeystoreError(
            "keystore_unavailable",
            "the device store is held open by another tab with an older version; close it and retry",
          ),
        );
    });
    this.db = opening;
    opening.catch(() => {
      if (this.db === opening) this.db = undefined;
    });
    return opening;
  }
}
