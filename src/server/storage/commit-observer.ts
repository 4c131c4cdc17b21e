/**
 * What a group commit reports about each batch it committed (or failed to), for the relay's
 * metrics. A callback and not a metrics library: storage stays free of how numbers are exported,
 * and an observer that throws cannot fail a commit (callers of `observe` swallow it).
 */
export interface CommitObservation {
  /** Writes in the batch. */
  writes: number;
  /** From BEGIN until COMMIT returned (SQLite: including its fsync; PostgreSQL: its WAL flush). */
  seconds: number;
  /** false: the batch's transaction failed as a whole (its writes were all rejected). */
  ok: boolean;
}

export type CommitObserver = (observation: CommitObservation) => void;

/** Seconds since `start` (a process.hrtime.bigint() reading). */
export const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** Reports to an observer, if any; the observer's own failure is not the commit's. */
export function observe(observer: CommitObserver | undefined, observation: CommitObservation): void {
  try {
    observer?.(observation);
  } catch {
    // Metrics are not worth a lost acknowledgement.
  }
}
