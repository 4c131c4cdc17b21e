import { parse } from "../protocol/index.js";
import { fetchAttachment, type Progress } from "./attachments.js";
import { SdkError } from "./errors.js";
import type { CaucusView } from "./core/caucus.js";
import { DeviceCore } from "./core/device-core.js";
import { syncAll, verifyAll, type VerifyReport } from "./core/transcript-sync.js";
import { deviceState, type DeviceState, type TranscriptEntry } from "./device-state.js";
import type { AuthKeyPair, Platform } from "./platform.js";
import type { Session } from "./session.js";
import { joinParts, storedAs, storedSession } from "./state-parts.js";
import type { StateStore } from "./state-store.js";

export type { VerifyReport };

/** A file attached to an event, as a device shows it (Device.attachments). */
export interface AttachmentView {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly sha256: string;
  /** Its bytes, decrypted and checked as they come (see Device.attachments). */
  fetch(progress?: Progress): AsyncGenerator<Uint8Array>;
}

/** What every device shows: who it is and its caucuses. Immutable; a new object only on change. */
export interface DeviceSnapshot {
  readonly deviceId: string;
  readonly role: "mediator" | "party";
  readonly name: string;
  readonly serverUrl: string;
  /** Admitted everywhere it is waiting to be (see each role's `joined`). */
  readonly joined: boolean;
  readonly caucuses: readonly CaucusView[];
}

/**
 * One device, either role: its keys, its caucuses and their verified transcripts. The lifecycle
 * is the same for both roles: create (or join from a one-time code), open from its store, sync
 * until joined, then act; each role adds its hooks around sync.
 *
 * Readers get immutable snapshots (`caucus()`, `getSnapshot()`), never the stored record, and can
 * `subscribe` to be told when they change (made for React's useSyncExternalStore).
 */
export abstract class Device<S extends DeviceSnapshot = DeviceSnapshot> {
  private snap: { version: number; value: S } | undefined;

  protected constructor(protected readonly core: DeviceCore) {
    core.hooks = { beforeSync: () => this.beforeSync(), afterSync: () => this.afterSync() };
  }

  protected static async loadCore(store: StateStore, platform: Platform): Promise<DeviceCore> {
    const parts = await store.load();
    return new DeviceCore(
      parse(deviceState, joinParts(parts), "device state"),
      store,
      platform,
      storedAs(parts),
      storedSession(parts),
    );
  }

  get deviceId(): string {
    return this.core.state.deviceId;
  }
  get role(): "mediator" | "party" {
    return this.core.state.role;
  }
  get name(): string {
    return this.core.state.name;
  }
  get serverUrl(): string {
    return this.core.state.serverUrl;
  }
  get mediatorKey(): string {
    return this.core.state.mediatorKey;
  }
  get identityPublicKey(): string {
    return this.core.state.identityKey.publicKey;
  }
  /** The login session (live updates use its token). */
  get session(): Session {
    return this.core.session;
  }

  /** True once the device is a member of every caucus it is waiting to join. */
  abstract get joined(): boolean;

  caucusIds(): string[] {
    return this.core.caucusIds();
  }

  /** A snapshot of one caucus; throws caucus_unknown for a caucus this device is not in. */
  caucus(caucusId: string): CaucusView {
    return this.core.caucus(caucusId).view();
  }

  /** Decrypted, verified events of a caucus, in order. */
  entries(caucusId: string): readonly TranscriptEntry[] {
    return this.caucus(caucusId).entries;
  }

  /**
   * The files attached to an event of this device's transcript (a signal, conveyance or note),
   * each with a `fetch` that downloads and decrypts it as a stream, checking every chunk and, at
   * the end, its SHA-256 (attachment_invalid; throw away what came). Throws attachment_invalid
   * for an event without files.
   */
  attachments(caucusId: string, eventId: string): AttachmentView[] {
    const entry = this.entries(caucusId).find((e) => e.eventId === eventId);
    const body = entry?.payload?.body;
    const files = body && body.type !== "receipt" && "attachments" in body ? body.attachments : undefined;
    if (!files) throw new SdkError("attachment_invalid", "that event has no attachments on this device");
    return files.map((a) => ({
      name: a.name,
      type: a.type,
      size: a.size,
      sha256: a.sha256,
      fetch: (progress?: Progress) => fetchAttachment(this.core, caucusId, a, progress),
    }));
  }

  /** Fetches and verifies everything new in every caucus. Returns the new entries per caucus. */
  sync(): Promise<Map<string, TranscriptEntry[]>> {
    return this.core.exclusive(() => syncAll(this.core));
  }

  /**
   * Re-reads every transcript from the server and checks it against what this device verified
   * before: a changed, missing, extra or reordered event is reported.
   */
  verify(): Promise<VerifyReport[]> {
    return this.core.exclusive(() => verifyAll(this.core));
  }

  /**
   * Revokes this device's login token on the relay, closing the push sockets opened with it;
   * `everywhere`: every token of this device (other processes, other tabs). Keys stay: the device
   * logs in again on its next request.
   */
  logout(opts: { everywhere?: boolean } = {}): Promise<number> {
    return this.core.session.logout(opts.everywhere ?? false);
  }

  /** Waits (polling) until the device has joined, or the timeout passes. */
  async waitUntilJoined(timeoutMs = 30_000, pollMs = 250): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await this.sync();
      if (this.joined) return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Tells `listener` whenever snapshots may have changed; returns the unsubscribe function. */
  readonly subscribe = (listener: () => void): (() => void) => this.core.subscribe(listener);

  /** The device's current snapshot: the same object until something changed. */
  readonly getSnapshot = (): S => {
    if (this.snap?.version === this.core.version) return this.snap.value;
    const next = this.buildSnapshot();
    const value = this.snap && sameShallow(this.snap.value, next) ? this.snap.value : next;
    this.snap = { version: this.core.version, value };
    return value;
  };

  protected abstract buildSnapshot(): S;

  protected baseSnapshot(): DeviceSnapshot {
    return {
      deviceId: this.deviceId,
      role: this.role,
      name: this.name,
      serverUrl: this.serverUrl,
      joined: this.joined,
      caucuses: Object.freeze(this.core.caucuses().map((c) => c.view())),
    };
  }

  /** Hooks for each role: join a waiting group, admit pending devices, flush owed receipts. */
  protected beforeSync(): Promise<void> {
    return Promise.resolve();
  }
  protected afterSync(): Promise<void> {
    return Promise.resolve();
  }
}

/** Equal when every field is the same value, or an array of the same values. */
function sameShallow<T extends object>(a: T, b: T): boolean {
  const keys = Object.keys(a) as (keyof T)[];
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k];
    const y = b[k];
    if (x === y) return true;
    return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => v === y[i]);
  });
}

/** The state of a device that has just been made: no channels, invites or caucuses yet. */
export function newDeviceState(init: {
  serverUrl: string;
  deviceId: string;
  role: "mediator" | "party";
  name: string;
  authKey: AuthKeyPair;
  identityKey: { secret: string; publicKey: string };
  mediatorKey: string;
}): DeviceState {
  return {
    v: 1,
    ...init,
    channels: {},
    invites: {},
    caucuses: {},
    owedReceipts: [],
    pendingConveyances: [],
  };
}
