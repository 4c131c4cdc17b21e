import type Database from "better-sqlite3";
import { asError, rejectAll, settle, type Outcome, type Queued } from "../batch.js";
import { observe, secondsSince, type CommitObserver } from "../commit-observer.js";

/**
 * Group commit: writes submitted in the same turn of the event loop share one transaction, so
 * one fsync (synchronous = FULL) makes them all durable, instead of one fsync each.
 *
 * - Each write runs in its own savepoint, in submission order: one that throws (a refusal such as
 *   stale_epoch, or any error) is rolled back alone and rejected alone; the others see exactly the
 *   state they would have seen one at a time, and keep their results.
 * - Nothing is resolved before the batch's COMMIT has returned, i.e. before it is on disk
 *   (invariant 6: an acknowledged event survives a crash). If the transaction as a whole fails
 *   (COMMIT fails, or SQLite rolled it back under us), every write of the batch is rejected.
 * - The batch is flushed on setImmediate: after the poll phase has handed every request that
 *   arrived to its handler, so requests that arrive together are committed together, and a lone
 *   request waits for nothing but its own commit.
 *
 * better-sqlite3 is synchronous, so no other JavaScript runs while a batch is applied: reads
 * between submission and flush see the state before the batch, never part of it.
 */
export class GroupCommit<I, O> {
  private readonly queue: Queued<I, O>[] = [];
  private scheduled = false;
  private readonly applyBatch: (batch: readonly Queued<I, O>[]) => Outcome<O>[];

  constructor(
    db: Database.Database,
    /** One write; runs inside a savepoint of the batch's immediate transaction. */
    apply: (input: I) => O,
    /** Writes per transaction at most; more wait for the next turn, so one commit stays short. */
    private readonly maxBatch = 256,
    /** Told how long each batch took, BEGIN to COMMIT (the fsync included). */
    private readonly onCommit?: CommitObserver,
  ) {
    const one = db.transaction(apply);
    const batchTransaction = db.transaction((batch: readonly Queued<I, O>[]) =>
      batch.map((q): Outcome<O> => {
        try {
          return { ok: true, value: one(q.input) };
        } catch (error) {
          // Some errors (disk full, I/O) make SQLite roll back the whole transaction: then the
          // writes before this one are gone too, and nothing after it may run outside a transaction.
          if (!db.inTransaction) throw error;
          return { ok: false, error: asError(error) };
        }
      }),
    );
    this.applyBatch = (batch) => batchTransaction.immediate(batch);
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flushScheduled());
      }
    });
  }

  /** Commits everything queued now (the storage calls it before closing the database). */
  flush(): void {
    while (this.queue.length > 0) this.commitBatch();
  }

  /** One batch per turn of the event loop, so the acks of one go out before the next commits. */
  private flushScheduled(): void {
    this.scheduled = false;
    this.commitBatch();
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushScheduled());
    }
  }

  private commitBatch(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    // flush() may have emptied the queue before this turn came: no empty transaction.
    if (batch.length === 0) return;
    let outcomes: Outcome<O>[];
    const start = process.hrtime.bigint();
    try {
      outcomes = this.applyBatch(batch);
    } catch (error) {
      observe(this.onCommit, { writes: batch.length, seconds: secondsSince(start), ok: false });
      rejectAll(batch, error);
      return;
    }
    observe(this.onCommit, { writes: batch.length, seconds: secondsSince(start), ok: true });
    settle(batch, outcomes);
  }
}
