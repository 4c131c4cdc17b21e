import type { CaucusRecord, DeviceState } from "./device-state.js";
import type { StoredSession } from "./session.js";
import type { StateStore } from "./state-store.js";

/**
 * A device's state as the parts its store keeps, so that saving costs what changed, not what the
 * device holds (issue 8: a mediator with 200 caucuses sends as fast as one with 2, and the
 * 10,000th event as fast as the first):
 *
 *   "device"                  everything but the caucuses
 *   "caucus/<caucusId>"       one caucus's record without its transcript (group state, head, outbox…)
 *   "entry/<caucusId>/<n>"    the n-th entry (from 0) of that caucus's verified transcript
 *   "state"                   a whole state, as stores written before parts held it (read only)
 *   "session"                 the relay's login token, kept for the next process (not part of the
 *                             state: written on its own, so that a process renewing its token
 *                             never writes its view of the device part over another's)
 *
 * A transcript only grows (entries are appended), so a save writes the new entries and the
 * caucus records and device part that changed. The one change to an entry already saved is
 * burning it (core/burn.ts): the caller names those entries (StateWriter.rewriteEntries).
 */
const DEVICE = "device";
const LEGACY = "state";
const SESSION = "session";
const caucusKey = (caucusId: string) => `caucus/${caucusId}`;
const entryKey = (caucusId: string, n: number) => `entry/${caucusId}/${n}`;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Puts a device state back together from its parts (unvalidated: the caller parses it). */
export function joinParts(parts: Record<string, unknown>): unknown {
  const base = parts[DEVICE] ?? parts[LEGACY];
  if (!isObject(base)) return base;
  const caucuses: Json = isObject(base.caucuses) ? { ...base.caucuses } : {};
  const entries = new Map<string, { n: number; entry: unknown }[]>();
  for (const [key, value] of Object.entries(parts)) {
    if (key.startsWith("caucus/")) caucuses[key.slice("caucus/".length)] = value;
    else if (key.startsWith("entry/")) {
      const rest = key.slice("entry/".length);
      const slash = rest.lastIndexOf("/");
      const caucusId = rest.slice(0, slash);
      const n = Number(rest.slice(slash + 1));
      let list = entries.get(caucusId);
      if (!list) entries.set(caucusId, (list = []));
      list.push({ n, entry: value });
    }
  }
  for (const [caucusId, list] of entries) {
    const record = caucuses[caucusId];
    // Entries of a caucus the state does not hold fail validation as a missing record would.
    if (!isObject(record)) {
      caucuses[caucusId] = record;
      continue;
    }
    list.sort((a, b) => a.n - b.n);
    // A hole in the numbering is a damaged store: keep the entries where they are, so the
    // transcript's own chain check (not a silent renumbering) reports it.
    const held: unknown[] = Array.isArray(record.entries) ? (record.entries as unknown[]) : [];
    caucuses[caucusId] = { ...record, entries: [...held, ...list.map((x) => x.entry)] };
  }
  return { ...base, caucuses };
}

/** Every part of a state (a store's first write). */
export function splitState(state: DeviceState): Map<string, unknown> {
  const out = new Map<string, unknown>([[DEVICE, devicePart(state)]]);
  for (const record of Object.values(state.caucuses)) {
    out.set(caucusKey(record.caucusId), caucusPart(record));
    record.entries.forEach((e, n) => out.set(entryKey(record.caucusId, n), e));
  }
  return out;
}

function devicePart(state: DeviceState): Json {
  return { ...state, caucuses: {} };
}

function caucusPart(record: CaucusRecord): Json {
  return { ...record, entries: [] };
}

export type StoredAs = "parts" | "whole";

interface SavedCaucus {
  json: string;
  entries: number;
  /** Hash of the last saved entry: if it changed, the transcript was replaced, not appended to. */
  lastHash: string | undefined;
}

/**
 * Saves a device's state to its store part by part, remembering what each part held when last
 * written, so that a save writes only the parts that changed.
 */
export class StateWriter {
  private device: string | undefined;
  private readonly caucuses = new Map<string, SavedCaucus>();
  private legacy: boolean;
  private queue: Promise<unknown> = Promise.resolve();
  /** Saved entries changed in place since (burnt), by caucus: written again by the next save. */
  private readonly rewrites = new Map<string, Set<number>>();
  /** Set once a save rewrote an entry: the store is then compacted (see save). */
  private burnt = false;

  /**
   * `stored`: what the store holds for this state. "parts": exactly this state, as parts (a
   * device just opened or just written); "whole": the state as one part, written before parts
   * existed (the first save writes every part); omitted: nothing yet.
   */
  constructor(
    private readonly store: StateStore,
    state: DeviceState,
    stored?: StoredAs,
  ) {
    this.legacy = stored === "whole";
    if (stored === "parts") this.remember(state);
  }

  /**
   * Writes what changed since the last save. `only`: the caller changed no caucus but these
   * (and perhaps the device part), so the others are not even compared.
   */
  save(state: DeviceState, only?: readonly string[]): Promise<void> {
    const run = this.queue.then(async () => {
      await this.write(state, only);
      // A store that keeps superseded versions of a part (the file keystore's log) still holds
      // what was burnt: have it rewrite itself without them.
      if (this.burnt && this.store.compact) await this.store.compact();
      this.burnt = false;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Keeps the login token (undefined: forgets it), in turn with the saves. */
  saveSession(session: StoredSession | undefined): Promise<void> {
    const run = this.queue.then(() => this.store.update(new Map([[SESSION, session]])));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Entries `indices` of the caucus changed in place (they were burnt): the next save writes them. */
  rewriteEntries(caucusId: string, indices: Iterable<number>): void {
    let set = this.rewrites.get(caucusId);
    if (!set) this.rewrites.set(caucusId, (set = new Set()));
    for (const n of indices) set.add(n);
  }

  private async write(state: DeviceState, only: readonly string[] | undefined): Promise<void> {
    const changes = new Map<string, unknown>();
    const rewritten = [...this.rewrites];
    for (const [caucusId, indices] of rewritten) {
      const entries = Object.hasOwn(state.caucuses, caucusId) ? state.caucuses[caucusId]!.entries : [];
      for (const n of indices) if (n < entries.length) changes.set(entryKey(caucusId, n), entries[n]);
    }
    const device = JSON.stringify(devicePart(state));
    // The store serialises what it is given before update() returns (StateStore's contract), so
    // the live objects go as they are: no copy per part.
    if (device !== this.device) changes.set(DEVICE, devicePart(state));
    const legacy = this.legacy;
    if (legacy) changes.set(LEGACY, undefined);
    const ids =
      only !== undefined && !legacy
        ? new Set(only)
        : new Set([...Object.keys(state.caucuses), ...this.caucuses.keys()]);
    const saved = new Map<string, SavedCaucus | undefined>();
    for (const caucusId of ids) {
      const record = Object.hasOwn(state.caucuses, caucusId) ? state.caucuses[caucusId] : undefined;
      const before = this.caucuses.get(caucusId);
      if (!record) {
        if (!before) continue;
        changes.set(caucusKey(caucusId), undefined);
        for (let n = 0; n < before.entries; n++) changes.set(entryKey(caucusId, n), undefined);
        saved.set(caucusId, undefined);
        continue;
      }
      const json = JSON.stringify(caucusPart(record));
      if (json !== before?.json) changes.set(caucusKey(caucusId), caucusPart(record));
      const entries = record.entries;
      const appended =
        !!before &&
        before.entries <= entries.length &&
        (before.entries === 0 || entries[before.entries - 1]!.hash === before.lastHash);
      const from = appended ? before.entries : 0;
      for (let n = from; n < entries.length; n++) changes.set(entryKey(caucusId, n), entries[n]);
      if (before && !appended)
        for (let n = entries.length; n < before.entries; n++) changes.set(entryKey(caucusId, n), undefined);
      saved.set(caucusId, { json, entries: entries.length, lastHash: entries.at(-1)?.hash });
    }
    if (changes.size === 0) return;
    await this.store.update(changes);
    for (const [caucusId] of rewritten) {
      this.rewrites.delete(caucusId);
      this.burnt = true;
    }
    // Only once the store has it: a failed write is tried again in full by the next save.
    this.device = device;
    this.legacy = false;
    for (const [caucusId, s] of saved) {
      if (s) this.caucuses.set(caucusId, s);
      else this.caucuses.delete(caucusId);
    }
  }

  private remember(state: DeviceState): void {
    this.device = JSON.stringify(devicePart(state));
    for (const record of Object.values(state.caucuses))
      this.caucuses.set(record.caucusId, {
        json: JSON.stringify(caucusPart(record)),
        entries: record.entries.length,
        lastHash: record.entries.at(-1)?.hash,
      });
  }
}

/** The role a stored state names (unvalidated), read without putting the whole state together. */
export function storedRole(parts: Record<string, unknown>): unknown {
  const base = parts[DEVICE] ?? parts[LEGACY];
  return isObject(base) ? base.role : undefined;
}

/** Reads a device's whole state from its store (unvalidated: the caller parses it). */
export async function readState(store: StateStore): Promise<unknown> {
  return joinParts(await store.load());
}

/** Writes a new device's whole state (its store's first write), as parts. */
export function writeNewState(store: StateStore, state: DeviceState): Promise<void> {
  return store.update(splitState(state));
}

/** How the parts a store returned hold the state (see StateWriter). */
export function storedAs(parts: Record<string, unknown>): StoredAs {
  return LEGACY in parts ? "whole" : "parts";
}

/** The login token a store keeps, if it keeps one of the right shape (anything else is ignored). */
export function storedSession(parts: Record<string, unknown>): StoredSession | undefined {
  const s = parts[SESSION];
  return isObject(s) && typeof s.token === "string" && typeof s.expiresAt === "string"
    ? { token: s.token, expiresAt: s.expiresAt }
    : undefined;
}
