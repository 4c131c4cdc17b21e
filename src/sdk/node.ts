import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { useCryptoBackend } from "../crypto/crypto-backend.js";
import { generateAuthKey, signWithAuthKey } from "../crypto/node/auth-key.js";
import { nodeCryptoBackend } from "../crypto/node/backend.js";
import { FileKeystore } from "../crypto/node/file-keystore.js";
import { checkNewPassphrase } from "../crypto/node/passphrase-policy.js";
import { nodeTransport } from "./node-transport.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";
import type { FileSource, Progress } from "./attachments.js";
import type { AttachmentView } from "./device.js";
import { SdkError } from "./errors.js";

// Node: MLS and identity-key signatures on node:crypto. Every Node path into the sdk (the CLI,
// the demo, an embedding program) comes through this module, so this is where Node chooses.
useCryptoBackend(nodeCryptoBackend);

/** Node: login keys via node:crypto, requests via node:http keep-alive. (`satisfies`, so callers keep the synchronous key generator.) */
export const nodePlatform = {
  generateAuthKey,
  signAuth: (key, message) => signWithAuthKey(key, message),
  transport: nodeTransport,
} satisfies Platform;

/**
 * Device state in one passphrase-encrypted file (0600) that keeps it as parts: an update appends
 * the changed parts, durably, and costs what changed (`crypto/node/file-keystore.ts`).
 */
export class FileStateStore implements StateStore {
  private keystore: FileKeystore | undefined;

  constructor(
    readonly path: string,
    private readonly passphrase: string,
  ) {}

  /**
   * A store for a device about to be made: refuses a passphrase below the policy
   * (passphrase_weak) now, before the device does anything that cannot be undone, such as
   * redeeming a one-time invite. The keystore checks the same rule again when it is created.
   */
  static forNewDevice(path: string, passphrase: string): FileStateStore {
    checkNewPassphrase(passphrase);
    return new FileStateStore(path, passphrase);
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  async load(): Promise<Record<string, unknown>> {
    this.keystore ??= await FileKeystore.open(this.path, this.passphrase);
    return this.keystore.read();
  }

  /** Takes in what other processes wrote since this store last read or wrote (a long-lived holder: the CLI's agent). */
  async refresh(): Promise<void> {
    await this.keystore?.refresh();
  }

  async clear(): Promise<void> {
    this.keystore = undefined;
    await rm(this.path, { force: true });
  }

  async compact(): Promise<void> {
    await this.keystore?.compact();
  }

  async update(changes: ReadonlyMap<string, unknown>): Promise<void> {
    if (this.keystore) return this.keystore.update(changes);
    this.keystore = await FileKeystore.create(this.path, this.passphrase, changes);
  }
}

/** A file on disk to attach (Party.send's `attachments`), read as a stream when it goes up. */
export async function fileSource(
  path: string,
  opts: { name?: string; type?: string } = {},
): Promise<FileSource> {
  const { size } = await stat(path);
  return {
    name: opts.name ?? basename(path),
    ...(opts.type ? { type: opts.type } : {}),
    size,
    data: () => createReadStream(path),
  };
}

/**
 * Saves an attachment into `dir` under its name (made safe: no path in it), streamed: written to a
 * temporary file beside it and renamed only once every chunk and the SHA-256 verified, so a
 * tampered or cut-short blob leaves nothing behind. Refuses to replace an existing file unless
 * `overwrite`. Returns the path.
 */
export async function saveAttachment(
  file: AttachmentView,
  dir: string,
  opts: { overwrite?: boolean; progress?: Progress } = {},
): Promise<string> {
  const name = basename(file.name.replace(/[\\/]/g, "_")).replace(/^\.+/, "_") || "attachment";
  const target = join(dir, name);
  if (!opts.overwrite && existsSync(target))
    throw new SdkError("attachment_invalid", `${target} exists; not replaced`);
  const part = join(dir, `.${name}.${crypto.randomUUID()}.part`);
  try {
    await pipeline(
      Readable.from(file.fetch(opts.progress)),
      createWriteStream(part, { flags: "wx", mode: 0o600 }),
    );
    await rename(part, target);
  } catch (error) {
    await rm(part, { force: true });
    throw error;
  }
  return target;
}
