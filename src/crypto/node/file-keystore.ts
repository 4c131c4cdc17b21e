import { timingSafeEqual } from "node:crypto";
import { open, stat, type FileHandle } from "node:fs/promises";
import { KeystoreError } from "../keystore-error.js";
import { createFileExclusive, errno, writeFileAtomic } from "./atomic-file.js";
import { withFileLock } from "./file-lock.js";
import {
  deriveKeys,
  newKdf,
  sameKdf,
  targetCost,
  weakerThan,
  type DerivedKeys,
  type KdfParams,
  type ScryptCost,
} from "./keystore-kdf.js";
import {
  CHAIN_START,
  encodeBatch,
  makeHeader,
  newKeystoreId,
  openRecords,
  parseHeader,
  sealRecord,
  type Batch,
  type ChainPosition,
  type LogHeader,
} from "./keystore-log.js";
import { openV1, parseV1, type V1File } from "./keystore-v1.js";
import { checkNewPassphrase } from "./passphrase-policy.js";

export type { ScryptCost } from "./keystore-kdf.js";

/**
 * One device's secrets and state (identity key, login key, MLS group state) in a single
 * passphrase-encrypted file, as named parts (the sdk's device part, one per caucus, one per
 * transcript entry), so that saving costs what changed and not what the device holds. A stolen
 * disk, backup or synced folder yields ciphertext only; the plaintext lives in this process's
 * memory while the keystore is open.
 *
 * The file is a header and a log of sealed records: a snapshot of every part, then one record per
 * update (`keystore-log.ts` has the format and what its AAD proves). An update appends one record
 * with one write and one fsync; once the log after the snapshot outgrows the live parts by
 * COMPACT_SLACK, the update instead rewrites the file as a fresh snapshot (one atomic replace), so
 * each byte appended costs at most about one byte of rewriting later. A file in the first format
 * (`keystore-v1.ts`, one sealed whole state) opens as the single part "state" and is rewritten in
 * this one by the first update.
 *
 * The header's `check` tells a wrong passphrase from a damaged file: without it both are one GCM
 * tag failure, and a user would retype a correct passphrase forever at a corrupt file.
 *
 * Durability: an update resolves after its record is fsynced; a crash in the middle of an append
 * leaves a torn last line, which readers ignore (that update never resolved) and the next writer
 * cuts off; a rewrite is an atomic replace, so a crash leaves the old file or the new one.
 *
 * Two processes of one device (the CLI's `watch` and a `send` beside it): writers take a lock
 * beside the file (`file-lock.ts`) for each append or rewrite, and first read whatever the other
 * process wrote since (its records, or the whole file if it rewrote it), so the file stays one
 * valid chain and each update lands whole, in the order the lock gave: for each part, the last
 * update wins. What each process holds in memory beyond that (the sdk's device state) is not
 * merged: two processes changing one caucus still overwrite each other's record of it.
 */

export interface KeystoreOptions {
  /**
   * The cost a new keystore gets and an older one is raised to on open. Defaults to OWASP's floor
   * (N=2^17, r=8, p=1); only the keystore's own unit tests pass a lower one, as an argument: no
   * production caller (FileStateStore, the CLI) passes it, and nothing reads it from the
   * environment, so no setting can weaken a real keystore. It must still be a cost open() accepts.
   */
  scrypt?: ScryptCost;
}

// A fresh snapshot once the log after the snapshot is this much larger than the parts: the file
// stays under about twice the state plus this, and an open reads no more than that.
const COMPACT_SLACK = 2 ** 20;
// How much of the file's end a writer compares to recognise the file it last saw (it covers the
// last record's tag, which no other record shares).
const TAIL_BYTES = 32;
const NEWLINE = 0x0a;

interface Keys extends DerivedKeys {
  readonly kdf: KdfParams;
}

/** What this process last saw of the file. */
interface OnDisk {
  readonly ino: bigint;
  /** Its size (more than `end` while it ends in a torn record). */
  readonly size: number;
  /** How much of it this process has read or written: v1 all; v2 up to the last complete record. */
  readonly end: number;
  /** The bytes just before `end`: a file that ends otherwise was replaced. */
  readonly tail: Buffer;
  /** v2: the header, where the snapshot ends, and where the chain stands. */
  readonly log?: { readonly header: LogHeader; readonly snapshotEnd: number; readonly at: ChainPosition };
}

export class FileKeystore {
  // Serialises updates: each one lands after the one before, in call order.
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    // The derived key is what writes use (one AES pass, not a scrypt). The passphrase is kept for
    // one case: another process re-encrypted the file under a new salt (a cost upgrade) while
    // this one had it open, and only a new derivation lets this one go on writing to it.
    // FileStateStore holds the passphrase for as long anyway.
    private readonly passphrase: string,
    private keys: Keys,
    /** The keystore's id (v2 header); undefined until a v1 file is first rewritten. */
    private id: string | undefined,
    private parts: PartMap,
    private disk: OnDisk | undefined,
  ) {}

  /**
   * Creates a new keystore holding `initial` (parts by key; undefined values are skipped); throws
   * keystore_exists rather than overwrite one, and passphrase_weak for a passphrase below the
   * policy (`passphrase-policy.ts`).
   */
  static async create(
    path: string,
    passphrase: string,
    initial: ReadonlyMap<string, unknown>,
    options: KeystoreOptions = {},
  ): Promise<FileKeystore> {
    checkNewPassphrase(passphrase);
    const parts = new PartMap().with(toBatch(initial));
    const kdf = newKdf(targetCost(options.scrypt));
    const keys = { kdf, ...(await deriveKeys(passphrase, kdf)) };
    const id = newKeystoreId();
    const image = snapshotImage(parts, keys, id);
    if (!(await createFileExclusive(path, image.data))) {
      throw new KeystoreError("keystore_exists", `a keystore already exists at ${path}`);
    }
    const ino = (await stat(path, { bigint: true })).ino;
    return new FileKeystore(path, passphrase, keys, id, parts, { ...image.disk, ino });
  }

  /**
   * Opens a keystore with its passphrase, whatever the passphrase policy says today (a keystore
   * made under an older policy is not locked out). A keystore derived at less than today's cost
   * is re-encrypted at that cost under a fresh salt, with the same passphrase, by one atomic
   * replace: a crash at any point leaves the old file or the new one, both openable.
   */
  static async open(path: string, passphrase: string, options: KeystoreOptions = {}): Promise<FileKeystore> {
    const cost = targetCost(options.scrypt);
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") {
        throw new KeystoreError("keystore_missing", `no keystore at ${path}`, { cause: error });
      }
      throw error; // EACCES, EIO…: not a property of the file's contents, so not "corrupt"
    }
    let store: FileKeystore;
    try {
      const { ino } = await handle.stat({ bigint: true });
      const loaded = await load(path, passphrase, await handle.readFile(), ino, undefined);
      store = new FileKeystore(path, passphrase, loaded.keys, loaded.id, loaded.parts, loaded.disk);
    } finally {
      await handle.close();
    }
    if (weakerThan(store.keys.kdf, cost)) await store.raiseCost(cost);
    return store;
  }

  /**
   * Every part, by key: fresh copies each call, so nobody mutates the state behind update().
   * Values are `unknown` on purpose: callers validate them with their schema like any outside
   * input. A v1 file's whole state is the part "state".
   */
  read(): Record<string, unknown> {
    return this.parts.toRecord();
  }

  /**
   * Sets each part to its value and deletes each part whose value is undefined, as one record
   * (or, when the log has grown enough, one rewrite); read() sees it once it resolves, and so
   * does any later open, even after a crash.
   */
  async update(changes: ReadonlyMap<string, unknown>): Promise<void> {
    // Runs at call time: the values are snapshotted (later mutation by the caller must not leak
    // in) and the update queued in call order.
    const batch = toBatch(changes);
    if (batch.set.size === 0 && batch.delete.length === 0) return;
    await this.serial(() =>
      this.locked(async (handle) => {
        const log = this.disk?.log;
        // Gone (deleted under us: written anew, as an atomic write recreates a file) or v1.
        if (!handle || !this.disk || !log) return this.rewrite(this.parts.with(batch), this.keys);
        const { line, tag } = sealRecord(
          this.keys.key,
          log.header,
          log.at,
          encodeBatch(batch.set, batch.delete),
        );
        if (this.disk.end + line.length - log.snapshotEnd > this.parts.bytesWith(batch) + COMPACT_SLACK)
          return this.rewrite(this.parts.with(batch), this.keys);
        await this.append(handle, this.disk, line, tag);
        this.parts.apply(batch);
      }),
    );
  }

  /** Reads what other processes wrote since this one last looked (under the lock); read() then has it. */
  refresh(): Promise<void> {
    return this.serial(() => this.locked(() => Promise.resolve()));
  }

  /** Rewrites the file as one snapshot of the parts (update() does so when the log has grown). */
  compact(): Promise<void> {
    return this.serial(() => this.locked(() => this.rewrite(this.parts, this.keys)));
  }

  private async raiseCost(cost: ScryptCost): Promise<void> {
    const kdf = newKdf(cost);
    const keys = { kdf, ...(await deriveKeys(this.passphrase, kdf)) };
    await this.serial(() =>
      this.locked(async () => {
        // Another process may have raised it meanwhile; this one then read the file anew.
        if (weakerThan(this.keys.kdf, cost)) await this.rewrite(this.parts, keys);
      }),
    );
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `fn` under the file's lock, once this process has read what others wrote since it last
   * looked; `fn` gets the file open for writing (undefined if it is gone).
   */
  private locked<T>(fn: (handle: FileHandle | undefined) => Promise<T>): Promise<T> {
    return withFileLock(this.path, async () => {
      let handle: FileHandle | undefined;
      try {
        handle = await open(this.path, "r+");
      } catch (error) {
        if (errno(error) !== "ENOENT" && errno(error) !== "ENOTDIR") throw error;
      }
      try {
        if (handle) await this.catchUp(handle);
        else this.disk = undefined;
        return await fn(handle);
      } finally {
        await handle?.close();
      }
    });
  }

  /** Brings this process's parts up to the file (under the lock): another process may have written. */
  private async catchUp(handle: FileHandle): Promise<void> {
    const { ino, size: bigSize } = await handle.stat({ bigint: true });
    const size = Number(bigSize);
    const disk = this.disk;
    if (disk && ino === disk.ino && size >= disk.end && (await endsWith(handle, disk.end, disk.tail))) {
      if (size === disk.end) {
        this.disk = { ...disk, size };
        return;
      }
      if (disk.log) {
        // Records appended by another process, and perhaps a torn one a writer left as it died.
        const more = await readAt(handle, disk.end, size - disk.end);
        const { batches, end, at } = openRecords(
          this.keys.key,
          disk.log.header,
          more,
          disk.log.at,
          this.path,
        );
        for (const batch of batches) this.parts.apply(batch);
        const tail = tailOf(Buffer.concat([disk.tail, more.subarray(0, end)]));
        this.disk = { ino, size, end: disk.end + end, tail, log: { ...disk.log, at } };
        return;
      }
      // a v1 file that grew: read it whole
    }
    // Replaced since: rewritten by another process (a snapshot, a cost upgrade, a v1 file
    // converted), or written by an older version, or another keystore altogether.
    const loaded = await load(this.path, this.passphrase, await readAt(handle, 0, size), ino, this.keys);
    if (this.id !== undefined && loaded.id !== undefined && loaded.id !== this.id)
      throw new KeystoreError(
        "keystore_exists",
        `the keystore at ${this.path} was replaced by another keystore: not writing this one's state into it`,
      );
    this.keys = loaded.keys;
    this.id = loaded.id ?? this.id;
    this.parts = loaded.parts;
    this.disk = loaded.disk;
  }

  private async append(handle: FileHandle, disk: OnDisk, line: Buffer, tag: Uint8Array): Promise<void> {
    try {
      // Bytes after `end` are a record torn by a writer that died (we hold the lock): cut them off.
      if (disk.size > disk.end) await handle.truncate(disk.end);
      for (let done = 0; done < line.length;) {
        const { bytesWritten } = await handle.write(line, done, line.length - done, disk.end + done);
        done += bytesWritten;
      }
      await handle.datasync();
    } catch (error) {
      // Leave no half record behind a failed update.
      await handle.truncate(disk.end).catch(() => undefined);
      this.disk = undefined; // not sure what the file holds now: the next writer reads it anew
      throw error;
    }
    const end = disk.end + line.length;
    const at = { n: disk.log!.at.n + 1, prev: tag };
    this.disk = {
      ino: disk.ino,
      size: end,
      end,
      tail: tailOf(Buffer.concat([disk.tail, line])),
      log: { ...disk.log!, at },
    };
  }

  /** Replaces the file by one snapshot of `parts` under `keys` (under the lock). */
  private async rewrite(parts: PartMap, keys: Keys): Promise<void> {
    this.id ??= newKeystoreId();
    const image = snapshotImage(parts, keys, this.id);
    await writeFileAtomic(this.path, image.data);
    this.keys = keys;
    this.parts = parts;
    this.disk = { ...image.disk, ino: (await stat(this.path, { bigint: true })).ino };
  }
}

/** A keystore file's contents: its keys (checked against the passphrase), parts and layout. */
async function load(
  path: string,
  passphrase: string,
  buf: Buffer,
  ino: bigint,
  known: Keys | undefined,
): Promise<{ keys: Keys; id: string | undefined; parts: PartMap; disk: OnDisk }> {
  const file = decodeFile(buf, path);
  const keys =
    known && sameKdf(known.kdf, file.kdf)
      ? known
      : { kdf: file.kdf, ...(await deriveKeys(passphrase, file.kdf)) };
  if (!timingSafeEqual(keys.check, file.check)) {
    throw new KeystoreError("keystore_passphrase", "wrong passphrase for this keystore");
  }
  if (file.version === 1) {
    const parts = new PartMap().with({
      set: new Map([["state", openV1(keys.key, file.v1, path)]]),
      delete: [],
    });
    return {
      keys,
      id: undefined,
      parts,
      disk: { ino, size: buf.length, end: buf.length, tail: tailOf(buf) },
    };
  }
  const body = buf.subarray(file.bodyStart);
  const { batches, end, at } = openRecords(keys.key, file.header, body, CHAIN_START, path);
  // The snapshot is written whole, by an atomic replace: a file without it was damaged.
  if (batches.length === 0)
    throw new KeystoreError("keystore_corrupt", `keystore at ${path} holds no snapshot`);
  const parts = new PartMap();
  for (const batch of batches) parts.apply(batch);
  const fileEnd = file.bodyStart + end;
  return {
    keys,
    id: file.header.id,
    parts,
    disk: {
      ino,
      size: buf.length,
      end: fileEnd,
      tail: tailOf(buf.subarray(0, fileEnd)),
      log: { header: file.header, snapshotEnd: file.bodyStart + body.indexOf(NEWLINE) + 1, at },
    },
  };
}

type DecodedFile =
  | { version: 1; kdf: KdfParams; check: Uint8Array; v1: V1File }
  | { version: 2; kdf: KdfParams; check: Uint8Array; header: LogHeader; bodyStart: number };

/** Tells the formats apart: v2 starts with its header line, v1 is one JSON document. */
function decodeFile(buf: Buffer, path: string): DecodedFile {
  const nl = buf.indexOf(NEWLINE);
  if (nl !== -1) {
    const line = buf.toString("utf8", 0, nl);
    let first: unknown;
    try {
      first = JSON.parse(line);
    } catch {
      // not a header line: perhaps v1, pretty-printed over several lines
    }
    if (typeof first === "object" && first !== null && "v" in first && first.v === 2) {
      const header = parseHeader(line, first, path);
      return { version: 2, kdf: header.kdf, check: header.check, header, bodyStart: nl + 1 };
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(buf.toString("utf8"));
  } catch (error) {
    throw new KeystoreError("keystore_corrupt", `keystore at ${path} is not a keystore file`, {
      cause: error,
    });
  }
  const v1 = parseV1(json, path);
  return { version: 1, kdf: v1.kdf, check: v1.check, v1 };
}

/** The bytes of a file holding one snapshot of `parts`, and what a writer then knows of it. */
function snapshotImage(parts: PartMap, keys: Keys, id: string): { data: Buffer; disk: Omit<OnDisk, "ino"> } {
  const header = makeHeader(keys.kdf, keys.check, id);
  const { line, tag } = sealRecord(keys.key, header, CHAIN_START, encodeBatch(parts.entries()));
  const data = Buffer.concat([Buffer.from(`${header.line}\n`, "utf8"), line]);
  const end = data.length;
  return {
    data,
    disk: { size: end, end, tail: tailOf(data), log: { header, snapshotEnd: end, at: { n: 1, prev: tag } } },
  };
}

/** The parts as the keystore keeps them: JSON text by key, and about what a snapshot of them takes. */
class PartMap {
  private readonly json = new Map<string, string>();
  /** About the bytes a snapshot of these parts takes in the file (base64url of their JSON). */
  bytes = 0;

  entries(): IterableIterator<[string, string]> {
    return this.json.entries();
  }

  toRecord(): Record<string, unknown> {
    // fromEntries defines own properties: a part named "__proto__" cannot reach the prototype.
    return Object.fromEntries(Array.from(this.json, ([key, text]) => [key, JSON.parse(text) as unknown]));
  }

  apply(batch: Batch): void {
    for (const key of batch.delete) this.put(key, undefined);
    for (const [key, text] of batch.set) this.put(key, text);
  }

  /** A copy with `batch` applied. */
  with(batch: Batch): PartMap {
    const copy = new PartMap();
    for (const [key, text] of this.json) copy.json.set(key, text);
    copy.bytes = this.bytes;
    copy.apply(batch);
    return copy;
  }

  /** `bytes` once `batch` is applied. */
  bytesWith(batch: Batch): number {
    let bytes = this.bytes;
    for (const key of new Set([...batch.delete, ...batch.set.keys()])) {
      const old = this.json.get(key);
      if (old !== undefined) bytes -= partBytes(key, old);
    }
    for (const [key, text] of batch.set) bytes += partBytes(key, text);
    return bytes;
  }

  private put(key: string, text: string | undefined): void {
    const old = this.json.get(key);
    if (old !== undefined) this.bytes -= partBytes(key, old);
    if (text === undefined) this.json.delete(key);
    else {
      this.json.set(key, text);
      this.bytes += partBytes(key, text);
    }
  }
}

const partBytes = (key: string, text: string) =>
  Math.ceil(((Buffer.byteLength(key) + Buffer.byteLength(text) + 4) * 4) / 3);

/** The changes as a batch of JSON text; throws TypeError for a value that is not JSON. */
function toBatch(changes: ReadonlyMap<string, unknown>): Batch {
  const set = new Map<string, string>();
  const deleted: string[] = [];
  for (const [key, value] of changes) {
    if (value === undefined) {
      deleted.push(key);
      continue;
    }
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError("keystore value is not JSON-serialisable");
    set.set(key, text);
  }
  return { set, delete: deleted };
}

const tailOf = (buf: Buffer) => Buffer.from(buf.subarray(Math.max(0, buf.length - TAIL_BYTES)));

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) return buf.subarray(0, done); // shorter than its size said
    done += bytesRead;
  }
  return buf;
}

async function endsWith(handle: FileHandle, end: number, tail: Buffer): Promise<boolean> {
  return (await readAt(handle, end - tail.length, tail.length)).equals(tail);
}
