import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { useCryptoBackend } from "../crypto/crypto-backend.js";
import { generateAuthKey, signWithAuthKey } from "../crypto/node/auth-key.js";
import { nodeCryptoBackend } from "../crypto/node/backend.js";
import { FileKeystore } from "../crypto/node/file-keystore.js";
import { checkNewPassphrase } from "../crypto/node/passphrase-policy.js";
import { nodeTransport } from "./node-transport.js";
import type { Platform } from "./platform.js";
import type { StateStore } from "./state-store.js";

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
