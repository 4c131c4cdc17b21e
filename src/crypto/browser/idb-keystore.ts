import { z } from "zod";
import { KeystoreError } from "../keystore-error.js";
import { fromUtf8, toBase64Url } from "../../protocol/index.js";
import { subtle } from "./subtle.js";

/**
 * A browser device's state in IndexedDB, as the sdk's parts (the device part, one per caucus, one
 * per transcript entry), one record each, so that a save writes what changed. Every record is
 * encrypted under an AES-GCM key that no script can read: the CryptoKey is generated
 * non-extractable and stored as the key object itself (IndexedDB structured-clones it). Script in
 * the page, injected script included, can use the key while it runs here but never carry the key
 * bytes away, and whatever reads the records through the browser gets ciphertext only. Not
 * covered: the browser keeps the key material in its profile on disk, so a copy of the whole
 * profile holds both; that is the operating system's disk encryption's job.
 *
 * One object store, these records:
 *   "state-key":    { id, key }      the AES-GCM 256 key and a random id naming it
 *   "names-key":    { id, key }      an HMAC-SHA-256 key (same id, also non-extractable)
 *   "part:<name>":  { v: 2, keyId, iv, ciphertext }   one part: JSON [partKey, value], fresh
 *                   12-byte IV per save, AAD "backchannel/device-state/v2\n" + the record's key
 *   "state":        { v: 1, keyId, iv, ciphertext }   a whole state as stored before parts
 *                   (AAD "backchannel/device-state/v1"): read as the part "state", deleted with it
 * A part's record key is base64url(HMAC(names-key, partKey)): the part keys name caucuses and
 * count transcript entries, so they are not stored in clear, yet an update still finds its records
 * without reading the others. The AAD binds each ciphertext to its record key, so records swapped
 * between keys do not open. What stays visible: how many parts there are and their sizes.
 * `clear()` deletes the keys with the state: without them, any copy of the ciphertext is noise.
 *
 * An update puts and deletes its records in one readwrite transaction, so it lands whole or not
 * at all. Each part is sealed on its own, so someone able to write the profile could put back an
 * older copy of one part beside newer others; putting back an older copy of everything, which a
 * single sealed state allowed as well, does as much harm (an older MLS group state).
 *
 * Failures use the file keystore's codes (KeystoreError), so callers branch the same way on both.
 */
const OBJECT_STORE = "device";
const KEY_RECORD = "state-key";
const NAMES_RECORD = "names-key";
const LEGACY_RECORD = "state";
const LEGACY_PART = "state";
const PART_PREFIX = "part:";
// Every part record's key, and no other: ";" is the character after ":".
const partRange = () => IDBKeyRange.bound(PART_PREFIX, "part;", false, true);
const IV_BYTES = 12;
const encoder = new TextEncoder();
const encode = (s: string) => new Uint8Array(encoder.encode(s));
const LEGACY_AAD = encode("backchannel/device-state/v1");
// Binds a part's ciphertext to its record: a ciphertext put under another record's key fails.
const partAad = (recordKey: string) => encode(`backchannel/device-state/v2\n${recordKey}`);

const keyRecord = z.strictObject({ id: z.string().min(1), key: z.instanceof(CryptoKey) });
type KeyRecord = z.infer<typeof keyRecord>;
interface Keys {
  id: string;
  key: CryptoKey;
  names: CryptoKey;
}

const sealed = <V extends 1 | 2>(v: V) =>
  z.strictObject({
    v: z.literal(v),
    keyId: z.string().min(1),
    iv: z.instanceof(Uint8Array).refine((iv) => iv.length === IV_BYTES),
    ciphertext: z.instanceof(Uint8Array),
  });
const sealedLegacy = sealed(1);
const sealedPart = sealed(2);
type SealedPart = z.infer<typeof sealedPart>;

const corrupt = (message: string, cause?: unknown) =>
  new KeystoreError("keystore_corrupt", message, cause === undefined ? undefined : { cause });

export class IdbKeystore {
  private db: Promise<IDBDatabase> | undefined;
  private keys: Keys | undefined;
  // One operation at a time: a slow encryption must not let an older part overwrite a newer one.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly name = "backchannel") {}

  exists(): Promise<boolean> {
    return this.serial(async () => {
      const { legacy, parts } = await this.readAll(true);
      return legacy !== undefined || parts > 0;
    });
  }

  /** Every part, by key; a state stored before parts is the part "state". */
  load(): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const stored = await this.readAll(false);
      if (stored.legacy === undefined && stored.records.length === 0)
        throw new KeystoreError("keystore_missing", "this browser holds no device yet");
      const storedKey = keyRecord.safeParse(stored.key);
      if (!storedKey.success)
        throw corrupt("the key that encrypts this device's state is gone or was replaced");
      const { id, key } = storedKey.data;
      const opened: Promise<[string, unknown]>[] = stored.records.map(async ([recordKey, value]) => {
        const part = sealedPart.safeParse(value);
        if (!part.success) throw corrupt("a stored part of the device state is damaged", part.error);
        const entry = await decrypt(key, id, part.data, partAad(recordKey));
        if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string")
          throw corrupt("a stored part of the device state is not readable");
        return [entry[0], entry[1]] as [string, unknown];
      });
      if (stored.legacy !== undefined) {
        const legacy = sealedLegacy.safeParse(stored.legacy);
        if (!legacy.success) throw corrupt("the stored device state is damaged", legacy.error);
        opened.push(decrypt(key, id, legacy.data, LEGACY_AAD).then((state) => [LEGACY_PART, state]));
      }
      const entries = await Promise.all(opened);
      // One record per part: two naming the same part were not written by this store.
      if (new Set(entries.map(([part]) => part)).size !== entries.length)
        throw corrupt("two stored records hold the same part of the device state");
      // fromEntries defines own properties: a part named "__proto__" cannot reach the prototype.
      return Object.fromEntries(entries);
    });
  }

  /**
   * Sets each part to its value and deletes each part whose value is undefined, in one
   * transaction. The values are encoded when this is called.
   */
  async update(changes: ReadonlyMap<string, unknown>): Promise<void> {
    const entries = [...changes].map(([part, value]): [string, string | undefined] => {
      if (value === undefined) return [part, undefined];
      const json = JSON.stringify(value);
      if (json === undefined) throw new TypeError("keystore value is not JSON-serialisable");
      return [part, `[${JSON.stringify(part)},${json}]`];
    });
    await this.serial(async () => {
      const { id, key, names } = await this.stateKeys();
      // Sealed before the transaction: IndexedDB commits a transaction left idle across an await.
      const puts: [string, SealedPart][] = [];
      const deletes: string[] = [];
      for (const [part, json] of entries) {
        const recordKey = await partRecordKey(names, part);
        if (json === undefined) {
          deletes.push(recordKey);
          if (part === LEGACY_PART) deletes.push(LEGACY_RECORD);
          continue;
        }
        const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
        const ciphertext = new Uint8Array(
          await subtle().encrypt(
            { name: "AES-GCM", iv, additionalData: partAad(recordKey) },
            key,
            encode(json),
          ),
        );
        puts.push([recordKey, { v: 2, keyId: id, iv, ciphertext }]);
      }
      await this.transaction("readwrite", (store, abort) => {
        // Checked in the same transaction as the writes: if another tab cleared this store (and a
        // new key may exist), writing under our old key would leave state nobody can decrypt.
        const current = store.get(KEY_RECORD);
        current.onsuccess = () => {
          const k = keyRecord.safeParse(current.result);
          if (!k.success || k.data.id !== id)
            return abort(
              new KeystoreError("keystore_missing", "this device's storage was cleared (in another tab?)"),
            );
          for (const recordKey of deletes) store.delete(recordKey);
          for (const [recordKey, value] of puts) store.put(value, recordKey);
        };
      });
    });
  }

  /** Forgets the device: deletes its state and the keys, so no copy of the ciphertext can be opened. */
  clear(): Promise<void> {
    return this.serial(async () => {
      this.keys = undefined;
      await this.transaction("readwrite", (store) => {
        store.delete(partRange());
        store.delete(LEGACY_RECORD);
        store.delete(KEY_RECORD);
        store.delete(NAMES_RECORD);
      });
    });
  }

  /** Closes the database connection (another tab can then delete or upgrade it). */
  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.keys = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The state key and the names key, made on first use (once, even with several tabs). */
  private async stateKeys(): Promise<Keys> {
    if (this.keys) return this.keys;
    const state = await this.storedOrNew(KEY_RECORD, undefined, () =>
      subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
    );
    const names = await this.storedOrNew(NAMES_RECORD, state.id, () =>
      subtle().generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
    );
    return (this.keys = { id: state.id, key: state.key, names: names.key });
  }

  /**
   * The key stored under `record`, or a new one stored there. `add` refuses a second one, so when
   * two tabs race, the one that lost uses the winner's. `id`: the id it must carry (the names key
   * belongs to the state key); undefined makes a new id.
   */
  private async storedOrNew(
    record: string,
    id: string | undefined,
    generate: () => Promise<CryptoKey>,
  ): Promise<KeyRecord> {
    const stored = await this.read(record);
    if (stored !== undefined) {
      const k = keyRecord.safeParse(stored);
      if (!k.success || (id !== undefined && k.data.id !== id))
        throw corrupt(`the stored ${record} is damaged or belongs to another key`, k.error);
      return k.data;
    }
    const candidate: KeyRecord = { id: id ?? crypto.randomUUID(), key: await generate() };
    try {
      await this.transaction("readwrite", (store) => store.add(candidate, record));
      return candidate;
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "ConstraintError")) throw e;
      return this.storedOrNew(record, id, generate); // another tab won the race; use its key
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

  /**
   * What the store holds, read in one transaction (one consistent view): the state key, the
   * legacy whole state, and the part records (or only how many there are).
   */
  private async readAll(countOnly: boolean) {
    const out = {
      key: undefined as unknown,
      legacy: undefined as unknown,
      parts: 0,
      records: [] as [string, unknown][],
    };
    await this.transaction("readonly", (store) => {
      const key = store.get(KEY_RECORD);
      key.onsuccess = () => (out.key = key.result as unknown);
      const legacy = store.get(LEGACY_RECORD);
      legacy.onsuccess = () => (out.legacy = legacy.result as unknown);
      if (countOnly) {
        const count = store.count(partRange());
        count.onsuccess = () => (out.parts = count.result);
        return;
      }
      const keys = store.getAllKeys(partRange());
      const values = store.getAll(partRange());
      values.onsuccess = () => {
        const all = values.result as unknown[];
        // Every key in partRange() is a string.
        out.records = keys.result.map((k, i) => [k as string, all[i]]);
        out.parts = all.length;
      };
    });
    return out;
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

/** The record key of a part: its name under the names key, so the part key itself is not stored. */
async function partRecordKey(names: CryptoKey, part: string): Promise<string> {
  const mac = await subtle().sign("HMAC", names, encode(part));
  return PART_PREFIX + toBase64Url(new Uint8Array(mac));
}

/** Decrypts one sealed record and parses its JSON. */
async function decrypt(
  key: CryptoKey,
  keyId: string,
  record: { keyId: string; iv: Uint8Array; ciphertext: Uint8Array },
  additionalData: Uint8Array<ArrayBuffer>,
): Promise<unknown> {
  if (record.keyId !== keyId)
    throw corrupt("the key that encrypts this device's state is gone or was replaced");
  let plaintext: ArrayBuffer;
  try {
    plaintext = await subtle().decrypt(
      { name: "AES-GCM", iv: new Uint8Array(record.iv), additionalData },
      key,
      new Uint8Array(record.ciphertext),
    );
  } catch (cause) {
    throw corrupt("the stored device state does not decrypt (damaged or tampered with)", cause);
  }
  try {
    return JSON.parse(fromUtf8(new Uint8Array(plaintext))) as unknown;
  } catch (cause) {
    throw corrupt("the stored device state is not readable", cause);
  }
}
