import {
  eventPayload,
  extendChain,
  fromBase64Url,
  parse,
  toBase64Url,
  utf8,
  canonicalJson,
  type AppendEventRequest,
  type EventBody,
  type EventPayload,
  type TranscriptProblem,
} from "../protocol/index.js";
import { CaucusGroup, decodeKeyPackage } from "../crypto/mls/caucus-group.js";
import { applyEvents } from "./caucus-log.js";
import { deviceState, type CaucusRecord, type DeviceState, type TranscriptEntry } from "./device-state.js";
import { ApiError, SdkError } from "./errors.js";
import type { Platform } from "./platform.js";
import { Session } from "./session.js";
import type { StateStore } from "./state-store.js";
import { uuidv7 } from "./uuidv7.js";

export interface VerifyReport {
  caucusId: string;
  ok: boolean;
  events: number;
  head: { seq: number; hash: string };
  problem?: TranscriptProblem;
}

/**
 * One device: its keys, its caucuses and their verified transcripts. Every operation runs under
 * one lock, so group state and transcripts are changed by one thing at a time, and the state is
 * saved before anything that could leave it inconsistent if the process died (an encrypted
 * message is saved in the outbox before it is posted, a commit's next state before it is sent).
 */
export class Device {
  protected lock: Promise<unknown> = Promise.resolve();
  readonly session: Session;

  protected constructor(
    protected state: DeviceState,
    protected readonly store: StateStore,
    protected readonly platform: Platform,
  ) {
    this.session = new Session(state.serverUrl, state.deviceId, state.authKey, platform);
  }

  protected static async loadState(store: StateStore): Promise<DeviceState> {
    return parse(deviceState, await store.load(), "device state");
  }

  get deviceId(): string {
    return this.state.deviceId;
  }
  get role(): "mediator" | "party" {
    return this.state.role;
  }
  get name(): string {
    return this.state.name;
  }
  get serverUrl(): string {
    return this.state.serverUrl;
  }
  get mediatorKey(): string {
    return this.state.mediatorKey;
  }
  get identityPublicKey(): string {
    return this.state.identityKey.publicKey;
  }

  caucusIds(): string[] {
    return Object.keys(this.state.caucuses);
  }

  caucus(caucusId: string): CaucusRecord {
    const c = this.state.caucuses[caucusId];
    if (!c) throw new SdkError("caucus_unknown", `this device is not in caucus ${caucusId}`);
    return c;
  }

  /** Decrypted, verified events of a caucus, in order. */
  entries(caucusId: string): readonly TranscriptEntry[] {
    return this.caucus(caucusId).entries;
  }

  protected async save(): Promise<void> {
    await this.store.save(this.state);
  }

  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  protected api() {
    return this.session.http;
  }

  /** Fetches and verifies everything new in every caucus. Returns the new entries per caucus. */
  sync(): Promise<Map<string, TranscriptEntry[]>> {
    return this.exclusive(() => this.syncUnlocked());
  }

  protected async syncUnlocked(): Promise<Map<string, TranscriptEntry[]>> {
    const out = new Map<string, TranscriptEntry[]>();
    await this.beforeSync();
    for (const caucusId of Object.keys(this.state.caucuses)) {
      const added = await this.syncCaucus(caucusId);
      if (added.length) out.set(caucusId, added);
    }
    await this.afterSync();
    return out;
  }

  /** Hooks for subclasses: join a pending group, admit pending devices, flush owed receipts. */
  protected async beforeSync(): Promise<void> {}
  protected async afterSync(): Promise<void> {}

  protected async syncCaucus(caucusId: string): Promise<TranscriptEntry[]> {
    const record = this.caucus(caucusId);
    const all: TranscriptEntry[] = [];
    if (record.removed || !record.group) return all;
    for (;;) {
      let page;
      try {
        page = await this.session.withRetry(() =>
          this.api().call("listEvents", { params: { caucusId }, query: { after: record.head.seq } }),
        );
      } catch (e) {
        // The relay cuts a removed device off at its remove commit, so the device never sees that
        // commit: a caucus it had joined answering "not found" means it was removed.
        if (e instanceof ApiError && e.code === "not_found") {
          record.removed = true;
          record.group = undefined;
          await this.save();
          return all;
        }
        throw e;
      }
      if (page.head.seq < record.head.seq && !record.problem) {
        record.problem = {
          kind: "fork",
          seq: record.head.seq,
          detail: `the server's head (#${page.head.seq}) is behind events this device already verified`,
        };
      }
      const { added, problem } = await applyEvents(
        record,
        page.events,
        { deviceId: this.deviceId },
        { mediatorKey: this.state.mediatorKey },
      );
      all.push(...added);
      // Same length, different head: the server rewrote events this device already verified.
      // Caught here, not only by verify(), so nothing is encrypted onto a chain we never saw.
      if (!record.problem && record.head.seq === page.head.seq && record.head.hash !== page.head.hash) {
        record.problem = (await this.rescan(record)) ?? {
          kind: "fork",
          seq: record.head.seq,
          detail: `the server's head #${page.head.seq} is not the event this device verified (history was rewritten)`,
        };
      }
      await this.save();
      if (problem || record.removed || page.events.length === 0 || record.head.seq >= page.head.seq) break;
    }
    return all;
  }

  protected assertUsable(record: CaucusRecord): CaucusGroup {
    if (record.removed) throw new SdkError("removed", "this device was removed from the caucus");
    if (record.problem)
      throw new SdkError(
        "transcript_broken",
        "the caucus transcript failed verification; refusing to send until it is resolved",
      );
    if (!record.group)
      throw new SdkError(
        "not_joined",
        "this device has not joined the caucus yet (waiting for the mediator to admit it)",
      );
    const group = CaucusGroup.restore(
      { mediatorKey: this.state.mediatorKey, caucusId: record.caucusId },
      fromBase64Url(record.group),
    );
    group.assertRosterTrusted();
    return group;
  }

  /** Encrypts and posts one event into a caucus; retries on a stale epoch. Returns its entry. */
  protected async sendUnlocked(
    caucusId: string,
    body: EventBody,
    eventIdValue = uuidv7(),
  ): Promise<TranscriptEntry> {
    const record = this.caucus(caucusId);
    for (let attempt = 0; ; attempt++) {
      await this.syncCaucus(caucusId);
      const group = this.assertUsable(record);
      const payload: EventPayload = parse(
        eventPayload,
        { v: 1, eventId: eventIdValue, caucusId, sentAt: new Date().toISOString(), seen: record.head, body },
        "event",
      );
      const { ciphertext, epoch, next } = await group.encrypt(utf8(canonicalJson(payload)));
      record.group = toBase64Url(next.serialize());
      record.outbox[eventIdValue] = payload;
      await this.save();
      const request: AppendEventRequest = {
        eventId: eventIdValue,
        kind: "application",
        epoch,
        ciphertext: toBase64Url(ciphertext),
      };
      try {
        await this.session.withRetry(() =>
          this.api().call("appendEvent", { params: { caucusId }, body: request }),
        );
      } catch (e) {
        if (e instanceof ApiError && e.code === "stale_epoch" && attempt < 5) continue;
        throw e;
      }
      await this.syncCaucus(caucusId);
      const entry = record.entries.find((x) => x.eventId === eventIdValue);
      if (!entry)
        throw new SdkError(
          "send_unconfirmed",
          "the server acknowledged the event but it is not in the transcript",
        );
      return entry;
    }
  }

  /** Posts a commit made from the current group; the next group is kept until the relay accepts it. */
  protected async commitUnlocked(
    caucusId: string,
    change: { add?: { deviceId: string; keyPackage: Uint8Array }[]; removeDeviceIds?: string[] },
    /**
     * retry: make the commit again after losing the epoch to another commit (default). Off when
     * the other commit may already have made the same change (another of the mediator's devices
     * admitting the same pending device): the caller then looks again.
     */
    opts: { retry?: boolean } = {},
  ): Promise<void> {
    const record = this.caucus(caucusId);
    for (let attempt = 0; ; attempt++) {
      await this.syncCaucus(caucusId);
      const group = this.assertUsable(record);
      const pending = await group.commit({
        add: change.add?.map((a) => decodeKeyPackage(a.keyPackage)),
        removeDeviceIds: change.removeDeviceIds,
      });
      const eventIdValue = uuidv7();
      record.pendingCommit = {
        eventId: eventIdValue,
        next: toBase64Url(pending.next.serialize()),
        added: change.add?.map((a) => a.deviceId) ?? [],
        removed: change.removeDeviceIds ?? [],
      };
      await this.save();
      const request: AppendEventRequest = {
        eventId: eventIdValue,
        kind: "commit",
        epoch: pending.epoch,
        ciphertext: toBase64Url(pending.commit),
        ...(change.add?.length && pending.welcome
          ? {
              welcomes: change.add.map((a) => ({
                deviceId: a.deviceId,
                welcome: toBase64Url(pending.welcome!),
              })),
            }
          : {}),
        ...(change.removeDeviceIds?.length ? { removes: change.removeDeviceIds } : {}),
      };
      try {
        await this.session.withRetry(() =>
          this.api().call("appendEvent", { params: { caucusId }, body: request }),
        );
      } catch (e) {
        record.pendingCommit = undefined;
        await this.save();
        if (e instanceof ApiError && e.code === "epoch_conflict" && attempt < 5 && (opts.retry ?? true))
          continue;
        throw e;
      }
      await this.syncCaucus(caucusId);
      return;
    }
  }

  /**
   * Re-reads the whole transcript from the server and checks it against what this device verified
   * before: a changed, missing, extra or reordered event is reported.
   */
  verify(): Promise<VerifyReport[]> {
    return this.exclusive(async () => {
      await this.syncUnlocked();
      const reports: VerifyReport[] = [];
      for (const record of Object.values(this.state.caucuses)) {
        reports.push(await this.verifyCaucus(record));
      }
      await this.save();
      return reports;
    });
  }

  private async verifyCaucus(record: CaucusRecord): Promise<VerifyReport> {
    if (!record.problem && !record.removed && record.group) {
      const problem = await this.rescan(record);
      if (problem) record.problem = problem;
    }
    return {
      caucusId: record.caucusId,
      ok: !record.problem,
      events: record.entries.length,
      head: record.head,
      ...(record.problem ? { problem: record.problem } : {}),
    };
  }

  /** Re-reads the caucus from this device's anchor; returns the first difference from what it verified. */
  private async rescan(record: CaucusRecord): Promise<TranscriptProblem | undefined> {
    let head = record.anchor;
    const known = new Map(record.entries.map((e) => [e.seq, e]));
    for (;;) {
      const page = await this.session.withRetry(() =>
        this.api().call("listEvents", { params: { caucusId: record.caucusId }, query: { after: head.seq } }),
      );
      for (const e of page.events) {
        const r = extendChain(head, [{ ...e, caucusId: record.caucusId }]);
        if (!r.ok) return r.problem;
        const mine = known.get(e.seq);
        if (mine && (mine.hash !== e.hash || mine.eventId !== e.eventId))
          return { kind: "altered", seq: e.seq, eventId: e.eventId };
        head = r.head;
      }
      if (page.events.length === 0 || head.seq >= page.head.seq) break;
    }
    if (head.seq < record.head.seq)
      return {
        kind: "fork",
        seq: head.seq + 1,
        detail: `the server's history ends at #${head.seq}, but this device verified events up to #${record.head.seq}`,
      };
    return undefined;
  }

  /** Server-side membership as this device sees it (used to find welcomes and new caucuses). */
  protected async me() {
    return this.session.withRetry(() => this.api().call("getMe"));
  }

  protected async fetchWelcome(caucusId: string) {
    try {
      return await this.session.withRetry(() => this.api().call("getWelcome", { params: { caucusId } }));
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_found") return undefined;
      throw e;
    }
  }
}
