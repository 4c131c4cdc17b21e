import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { newDeviceState } from "./device.js";
import { deviceState, type CaucusRecord, type DeviceState, type TranscriptEntry } from "./device-state.js";
import { FileStateStore } from "./node.js";
import { joinParts, splitState, StateWriter, storedAs } from "./state-parts.js";
import { MemoryStateStore, type StateStore } from "./state-store.js";

const key = "A".repeat(43);
const hashOf = (n: number) => n.toString(16).padStart(64, "0");

function freshState(): DeviceState {
  return newDeviceState({
    serverUrl: "http://127.0.0.1:1",
    deviceId: crypto.randomUUID(),
    role: "mediator",
    name: "M",
    authKey: { secret: "secret", publicKey: key },
    identityKey: { secret: "secret", publicKey: key },
    mediatorKey: key,
  });
}

function caucus(entries = 0): CaucusRecord {
  const caucusId = crypto.randomUUID();
  const record: CaucusRecord = {
    caucusId,
    anchor: { seq: 0, hash: hashOf(0) },
    head: { seq: 0, hash: hashOf(0) },
    entries: [],
    outbox: {},
    removed: false,
    group: "c3RhdGU",
  };
  for (let i = 0; i < entries; i++) append(record);
  return record;
}

function append(record: CaucusRecord): TranscriptEntry {
  const seq = record.head.seq + 1;
  const entry: TranscriptEntry = {
    seq,
    eventId: crypto.randomUUID(),
    hash: hashOf(seq + 1000 * record.entries.length),
    senderDeviceId: crypto.randomUUID(),
    senderRole: "party",
    kind: "commit",
    epoch: 1,
    membership: { added: [], removed: [] },
  };
  record.entries.push(entry);
  record.head = { seq, hash: entry.hash };
  return entry;
}

/** A store that records every update it is given. */
class RecordingStore implements StateStore {
  readonly inner = new MemoryStateStore();
  readonly updates: Map<string, unknown>[] = [];
  failNext = false;
  load() {
    return this.inner.load();
  }
  update(changes: ReadonlyMap<string, unknown>) {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error("disk full"));
    }
    this.updates.push(new Map(changes));
    return this.inner.update(changes);
  }
  lastKeys(): string[] {
    return [...(this.updates.at(-1)?.keys() ?? [])].sort();
  }
}

async function reload(store: StateStore): Promise<DeviceState> {
  return deviceState.parse(joinParts(await store.load()));
}

describe("device state as parts", () => {
  test("split then join gives the state back, valid and in order", () => {
    const state = freshState();
    for (const n of [0, 3, 12]) {
      const c = caucus(n);
      state.caucuses[c.caucusId] = c;
    }
    const joined = deviceState.parse(joinParts(Object.fromEntries(splitState(state))));
    expect(joined).toEqual(state);
  });

  test("a save writes only what changed: new entries, the caucus touched, the device part if it moved", async () => {
    const store = new RecordingStore();
    const state = freshState();
    const [a, b] = [caucus(5), caucus(5)];
    state.caucuses[a.caucusId] = a;
    state.caucuses[b.caucusId] = b;
    const writer = new StateWriter(store, state);
    await writer.save(state);
    expect(store.updates[0]!.size).toBe(1 + 2 + 10);

    const e = append(a);
    await writer.save(state);
    expect(store.lastKeys()).toEqual([`caucus/${a.caucusId}`, `entry/${a.caucusId}/5`].sort());
    expect(store.updates.at(-1)!.get(`entry/${a.caucusId}/5`)).toEqual(e);

    // Nothing changed: nothing written.
    await writer.save(state);
    expect(store.updates).toHaveLength(2);

    state.owedReceipts.push({ caucusId: b.caucusId, eventId: crypto.randomUUID(), body: {} });
    await writer.save(state, [b.caucusId]);
    expect(store.lastKeys()).toEqual(["device"]);

    expect(await reload(store.inner)).toEqual(state);
  });

  test("onlyCaucus leaves the other caucuses unread; a full save later catches them up", async () => {
    const store = new RecordingStore();
    const state = freshState();
    const [a, b] = [caucus(1), caucus(1)];
    state.caucuses[a.caucusId] = a;
    state.caucuses[b.caucusId] = b;
    const writer = new StateWriter(store, state);
    await writer.save(state);
    append(a);
    append(b);
    await writer.save(state, [a.caucusId]);
    expect(store.lastKeys().every((k) => k.includes(a.caucusId))).toBe(true);
    await writer.save(state);
    expect(store.lastKeys()).toEqual([`caucus/${b.caucusId}`, `entry/${b.caucusId}/1`].sort());
    expect(await reload(store.inner)).toEqual(state);
  });

  test("a replaced transcript is rewritten whole and its extra entries deleted; a dropped caucus leaves nothing", async () => {
    const store = new RecordingStore();
    const state = freshState();
    const a = caucus(4);
    const b = caucus(2);
    state.caucuses[a.caucusId] = a;
    state.caucuses[b.caucusId] = b;
    const writer = new StateWriter(store, state);
    await writer.save(state);
    const replacement = caucus(2);
    a.entries = replacement.entries;
    a.head = replacement.head;
    await writer.save(state);
    const last = store.updates.at(-1)!;
    expect(last.get(`entry/${a.caucusId}/0`)).toEqual(a.entries[0]);
    expect(last.has(`entry/${a.caucusId}/3`)).toBe(true);
    expect(last.get(`entry/${a.caucusId}/3`)).toBeUndefined();
    delete state.caucuses[b.caucusId];
    await writer.save(state);
    const stored = Object.keys(await store.inner.load());
    expect(stored.filter((k) => k.includes(b.caucusId))).toEqual([]);
    expect(await reload(store.inner)).toEqual(state);
  });

  test("a state stored whole (before parts) loads, and its first save turns it into parts", async () => {
    const store = new RecordingStore();
    const state = freshState();
    const a = caucus(3);
    state.caucuses[a.caucusId] = a;
    await store.inner.update(new Map([["state", JSON.parse(JSON.stringify(state))]]));
    const parts = await store.load();
    const loaded = deviceState.parse(joinParts(parts));
    expect(loaded).toEqual(state);
    const writer = new StateWriter(store, loaded, storedAs(parts));
    await writer.save(loaded, [a.caucusId]);
    const keys = Object.keys(await store.inner.load());
    expect(keys).not.toContain("state");
    expect(keys).toContain(`entry/${a.caucusId}/2`);
    expect(await reload(store.inner)).toEqual(state);
  });

  test("a failed write is retried in full by the next save", async () => {
    const store = new RecordingStore();
    const state = freshState();
    const a = caucus(1);
    state.caucuses[a.caucusId] = a;
    const writer = new StateWriter(store, state);
    await writer.save(state);
    append(a);
    store.failNext = true;
    await expect(writer.save(state)).rejects.toThrow("disk full");
    append(a);
    await writer.save(state);
    expect(store.lastKeys()).toEqual(
      [`caucus/${a.caucusId}`, `entry/${a.caucusId}/1`, `entry/${a.caucusId}/2`].sort(),
    );
    expect(await reload(store.inner)).toEqual(state);
  });

  test("a device opened from its parts writes nothing until something changes", async () => {
    const store = new RecordingStore();
    const state = freshState();
    const a = caucus(2);
    state.caucuses[a.caucusId] = a;
    await store.inner.update(splitState(state));
    const parts = await store.load();
    const loaded = deviceState.parse(joinParts(parts));
    const writer = new StateWriter(store, loaded, storedAs(parts));
    await writer.save(loaded);
    expect(store.updates).toHaveLength(0);
  });
});

/**
 * The StateStore contract, held against every Node backend alike (the IndexedDB one runs in
 * Chromium: test/web/browser-sdk.test.ts). `reopen` gives a new store object over the same
 * storage, as a restarted process gets.
 */
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const backends: { name: string; make: () => Promise<{ store: StateStore; reopen: () => StateStore }> }[] = [
  {
    name: "memory",
    make: () => {
      const store = new MemoryStateStore();
      return Promise.resolve({ store, reopen: () => store });
    },
  },
  {
    name: "file",
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), "bc-store-"));
      dirs.push(dir);
      const path = join(dir, "device.json");
      const passphrase = "a passphrase for tests";
      return {
        store: new FileStateStore(path, passphrase),
        reopen: () => new FileStateStore(path, passphrase),
      };
    },
  },
];

describe.each(backends)("StateStore contract: $name", (backend) => {
  test("parts round trip: the first update creates, sets and deletes apply, load hands out copies", async () => {
    const { store, reopen } = await backend.make();
    await expect(store.load()).rejects.toThrow();
    await store.update(
      new Map<string, unknown>([
        ["a", { n: 1 }],
        ["b", [1, 2]],
      ]),
    );
    await store.update(
      new Map<string, unknown>([
        ["a", undefined],
        ["c", "three"],
      ]),
    );
    const loaded = await store.load();
    expect(loaded).toEqual({ b: [1, 2], c: "three" });
    (loaded.b as number[]).push(3);
    expect(await store.load()).toEqual({ b: [1, 2], c: "three" });
    expect(await reopen().load()).toEqual({ b: [1, 2], c: "three" });
  });

  test("the sdk's saves: a caucus saved again keeps the entries saved before it, across a reopen", async () => {
    const { store, reopen } = await backend.make();
    const state = freshState();
    const a = caucus(3);
    state.caucuses[a.caucusId] = a;
    const writer = new StateWriter(store, state);
    await writer.save(state);
    // What a send saves: the caucus record (its head moved) and one new entry, nothing else.
    append(a);
    await writer.save(state, [a.caucusId]);
    append(a);
    await writer.save(state, [a.caucusId]);
    expect(await reload(reopen())).toEqual(state);
  });

  test('a state stored whole (before parts) loads as the part "state", and the first save converts it', async () => {
    const { store, reopen } = await backend.make();
    const state = freshState();
    const a = caucus(2);
    state.caucuses[a.caucusId] = a;
    await store.update(new Map([["state", JSON.parse(JSON.stringify(state)) as unknown]]));
    const again = reopen();
    const parts = await again.load();
    expect(Object.keys(parts)).toEqual(["state"]);
    const loaded = deviceState.parse(joinParts(parts));
    const writer = new StateWriter(again, loaded, storedAs(parts));
    append(loaded.caucuses[a.caucusId]!);
    await writer.save(loaded, [a.caucusId]);
    expect(Object.keys(await reopen().load())).not.toContain("state");
    expect(await reload(reopen())).toEqual(loaded);
  });
});
