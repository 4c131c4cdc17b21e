/**
 * Where a device keeps its state, as named parts (see `state-parts.ts`: the device's own part, one
 * per caucus, one per transcript entry), so that a save writes what changed and not the whole
 * state. Node uses the encrypted file keystore; the browser IndexedDB under a non-extractable key.
 * The sdk validates whatever `load` returns.
 */
export interface StateStore {
  /**
   * Every stored part, by key: fresh objects, never the store's own. Rejects when the store holds
   * no device. A store written before parts existed returns its whole state as the part "state".
   */
  load(): Promise<Record<string, unknown>>;
  /**
   * Sets each key to its value (a JSON value) and deletes each key whose value is undefined, in
   * one atomic step. The values are serialised before this returns its promise: the caller may
   * change them as soon as it has called. Atomic: after a crash the store holds the parts before the update or after it, never
   * a mix. The first update of a store that holds nothing creates it.
   */
  update(changes: ReadonlyMap<string, unknown>): Promise<void>;
  /** Forgets the device entirely (keys included). */
  clear?(): Promise<void>;
  /**
   * Drops every superseded version of a part the store may still hold (the file keystore's log
   * keeps them until it is rewritten), so that burnt content leaves the store. Stores that
   * overwrite parts in place need none.
   */
  compact?(): Promise<void>;
}

/** For tests and short-lived demos. Keeps deep copies, so callers cannot mutate it behind our back. */
export class MemoryStateStore implements StateStore {
  private parts: Map<string, string> | undefined;

  load(): Promise<Record<string, unknown>> {
    if (!this.parts) return Promise.reject(new Error("empty store"));
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.parts) out[k] = JSON.parse(v);
    return Promise.resolve(out);
  }

  update(changes: ReadonlyMap<string, unknown>): Promise<void> {
    // Everything serialised before anything changes: a value that is not JSON changes nothing.
    const texts = [...changes].map(([k, v]) => [k, v === undefined ? undefined : JSON.stringify(v)] as const);
    const parts = this.parts ?? new Map<string, string>();
    for (const [k, text] of texts) {
      if (text === undefined) parts.delete(k);
      else parts.set(k, text);
    }
    this.parts = parts;
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.parts = undefined;
    return Promise.resolve();
  }
}
