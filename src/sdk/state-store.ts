/**
 * Where a device keeps its state. Node uses the encrypted file keystore; the browser will use
 * IndexedDB under a non-extractable key. The sdk validates whatever `load` returns.
 */
export interface StateStore {
  load(): Promise<unknown>;
  save(state: unknown): Promise<void>;
  /** Forgets the device entirely (keys included). */
  clear?(): Promise<void>;
}

/** For tests and short-lived demos. Keeps a deep copy, so callers cannot mutate it behind our back. */
export class MemoryStateStore implements StateStore {
  private value: string | undefined;
  load(): Promise<unknown> {
    if (this.value === undefined) return Promise.reject(new Error("empty store"));
    return Promise.resolve(JSON.parse(this.value));
  }
  save(state: unknown): Promise<void> {
    this.value = JSON.stringify(state);
    return Promise.resolve();
  }
  clear(): Promise<void> {
    this.value = undefined;
    return Promise.resolve();
  }
}
