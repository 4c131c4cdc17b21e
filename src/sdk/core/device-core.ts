import { fromBase64Url, toBase64Url } from "../../protocol/index.js";
import { verifyAnchorProof } from "../../crypto/anchor-proof.js";
import {
  CaucusGroup,
  GroupError,
  decodeKeyPackage,
  type NewDeviceKeys,
} from "../../crypto/mls/caucus-group.js";
import type { CaucusRecord, DeviceState, StoredJoinKeys } from "../device-state.js";
import { ApiError, SdkError } from "../errors.js";
import type { Platform } from "../platform.js";
import { Session, type StoredSession } from "../session.js";
import { StateWriter, type StoredAs } from "../state-parts.js";
import type { StateStore } from "../state-store.js";
import { Caucus } from "./caucus.js";

/** What a role adds around every sync: join waiting groups, admit devices, flush owed receipts. */
export interface SyncHooks {
  beforeSync(): Promise<void>;
  afterSync(): Promise<void>;
}

/**
 * The inside of one device, shared by both roles and by the sdk's modules (never exported from
 * the sdk's surface): its stored state, its caucuses, one lock, and change notification.
 *
 * Every operation runs under `exclusive`, so group state and transcripts are changed by one thing
 * at a time, and the state is saved before anything that could leave it inconsistent if the
 * process died (an encrypted message is in the outbox before it is posted, a commit's next state
 * is kept before it is sent). Every save tells subscribers that snapshots may have changed.
 */
export class DeviceCore {
  readonly session: Session;
  hooks: SyncHooks = { beforeSync: () => Promise.resolve(), afterSync: () => Promise.resolve() };
  /** The clock (injectable for tests): the `sentAt` of what this device sends, and liveness. */
  now: () => number = Date.now;
  /** Bumped on every change; snapshots are rebuilt only when it moved. */
  version = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private readonly objects = new Map<string, Caucus>();
  private readonly writer: StateWriter;
  /** Caucuses changed since the last save whose saving may wait (saveSoon). */
  private readonly deferred = new Set<string>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `stored`: how the store holds this state (StateWriter); omitted: nothing stored yet.
   * `session`: the login token the store kept from an earlier process, used until a minute
   * before it expires; every new token is kept in the store in turn (a refused one is forgotten
   * and the device logs in again).
   */
  constructor(
    readonly state: DeviceState,
    store: StateStore,
    readonly platform: Platform,
    stored?: StoredAs,
    session?: StoredSession,
  ) {
    this.writer = new StateWriter(store, state, stored);
    this.session = new Session(state.serverUrl, state.deviceId, state.authKey, platform, session, (s) => {
      // Losing it costs only a login: nothing waits for this write, and a failed one is dropped.
      void this.writer.saveSession(s).catch(() => undefined);
    });
  }

  get deviceId(): string {
    return this.state.deviceId;
  }

  /** The identity key's secret half: the mediator's (shared by its devices) or the handler's. */
  get identitySecret(): Uint8Array {
    return fromBase64Url(this.state.identityKey.secret);
  }

  api() {
    return this.session.http;
  }

  caucusIds(): string[] {
    return Object.keys(this.state.caucuses);
  }

  hasCaucus(caucusId: string): boolean {
    return Object.hasOwn(this.state.caucuses, caucusId);
  }

  caucus(caucusId: string): Caucus {
    const record = Object.hasOwn(this.state.caucuses, caucusId) ? this.state.caucuses[caucusId] : undefined;
    if (!record) throw new SdkError("caucus_unknown", `this device is not in caucus ${caucusId}`);
    let c = this.objects.get(caucusId);
    if (!c || c.record !== record)
      this.objects.set(caucusId, (c = new Caucus(record, this.state.mediatorKey)));
    return c;
  }

  caucuses(): Caucus[] {
    return this.caucusIds().map((id) => this.caucus(id));
  }

  addCaucus(record: CaucusRecord, group?: CaucusGroup): Caucus {
    this.state.caucuses[record.caucusId] = record;
    const c = this.caucus(record.caucusId);
    if (group) c.setGroup(group);
    return c;
  }

  /**
   * Saves what changed. `onlyCaucus`: the caller changed that caucus and perhaps the device's own
   * part, nothing else, so the other caucuses are not looked at (the send path's save). Whatever
   * `saveSoon` left waiting goes along.
   */
  save(onlyCaucus?: string): Promise<void> {
    return this.write(onlyCaucus === undefined ? undefined : [onlyCaucus]);
  }

  /** Entries of a caucus were burnt in place (core/burn.ts): the next save rewrites them. */
  burnt(caucusId: string, indices: readonly number[]): void {
    if (indices.length > 0) this.writer.rewriteEntries(caucusId, indices);
  }

  private async write(only: readonly string[] | undefined): Promise<void> {
    const waiting = [...this.deferred];
    await this.writer.save(this.state, only && [...only, ...waiting]);
    for (const id of waiting) this.deferred.delete(id);
    this.changed();
  }

  /**
   * For a change a crash may lose without harm: the sender's own entry once the relay acked it
   * (the outbox still holds the payload and the relay the event, so the next sync applies it
   * again). The next save carries it; if none comes, a save under the lock right after. A send
   * then costs one write of the state, the one that must precede the post.
   */
  saveSoon(caucusId: string): void {
    this.deferred.add(caucusId);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      // A failed write is tried again in full by the next save (StateWriter).
      void this.exclusive(async () => {
        if (this.deferred.size > 0) await this.write([]);
      }).catch(() => undefined);
    }, 0);
  }

  changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    // Whatever happened (even a failure halfway), views may have changed.
    void run.then(
      () => this.changed(),
      () => this.changed(),
    );
    return run;
  }

  /** Server-side membership as this device sees it (used to find welcomes and new caucuses). */
  me() {
    return this.session.withRetry(() => this.api().call("getMe"));
  }

  async fetchWelcome(caucusId: string) {
    try {
      return await this.session.withRetry(() => this.api().call("getWelcome", { params: { caucusId } }));
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_found") return undefined;
      throw e;
    }
  }

  /**
   * Joins a caucus from the Welcome that added this device (both roles: a handler's device after
   * the mediator admitted it, a mediator device after another of the mediator's devices did).
   * Returns undefined while there is no Welcome yet. A Welcome that cannot be trusted or read
   * throws GroupError and joins nothing.
   */
  async joinFromWelcome(
    caucusId: string,
    keys: StoredJoinKeys,
    place: Pick<CaucusRecord, "channelId" | "mediatorName">,
  ): Promise<Caucus | undefined> {
    const w = await this.fetchWelcome(caucusId);
    if (!w) return undefined;
    const group = await CaucusGroup.join(
      { mediatorKey: this.state.mediatorKey, caucusId },
      fromBase64Url(w.welcome),
      {
        publicPackage: decodeKeyPackage(fromBase64Url(keys.keyPackage)),
        privatePackage: {
          initPrivateKey: fromBase64Url(keys.initPrivateKey),
          hpkePrivateKey: fromBase64Url(keys.hpkePrivateKey),
          signaturePrivateKey: fromBase64Url(keys.signaturePrivateKey),
        },
      },
    );
    // Invariant 8: the relay says where we start (the commit that added us); only the mediator's
    // signature over that place, for the epoch our Welcome opens, makes us believe it. A relay
    // that moved it later (hiding events of this epoch from us) cannot sign the new place.
    const anchor = { seq: w.seq, hash: w.hash };
    if (
      !w.anchorProof ||
      !verifyAnchorProof(this.state.mediatorKey, { caucusId, epoch: group.epoch, ...anchor }, w.anchorProof)
    )
      throw new GroupError(
        "anchor_unverified",
        `the relay's starting point for caucus ${caucusId} (#${w.seq}) is not the one the mediator signed`,
      );
    return this.addCaucus(
      {
        caucusId,
        ...(place.channelId ? { channelId: place.channelId } : {}),
        ...(place.mediatorName ? { mediatorName: place.mediatorName } : {}),
        anchor,
        head: anchor,
        entries: [],
        outbox: {},
        removed: false,
      },
      group,
    );
  }
}

/** The keys a device keeps between handing in its key package and receiving its Welcome. */
export function storedJoinKeys(fresh: NewDeviceKeys): StoredJoinKeys {
  return {
    keyPackage: toBase64Url(fresh.keyPackage),
    initPrivateKey: toBase64Url(fresh.privatePackage.initPrivateKey),
    hpkePrivateKey: toBase64Url(fresh.privatePackage.hpkePrivateKey),
    signaturePrivateKey: toBase64Url(fresh.privatePackage.signaturePrivateKey),
  };
}
