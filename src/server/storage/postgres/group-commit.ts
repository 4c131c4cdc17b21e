import { DatabaseError, type Pool, type QueryResultRow } from "pg";
import { asError, rejectAll, settle, type Outcome, type Queued } from "../batch.js";
import { observe, secondsSince, type CommitObserver } from "../commit-observer.js";
import type { PreparedText, Statement } from "./statement.js";
import { together, transactionAround } from "./transaction.js";

/**
 * Group commit, as sqlite/group-commit.ts does it, for a database across the network: writes
 * submitted while the previous batch commits share the next transaction, so one WAL flush
 * (synchronous_commit on) makes them all durable.
 *
 * - One batch at a time per storage, its writes applied in submission order; each sees exactly
 *   the state it would have seen one at a time. Another node's batches interleave only where
 *   the batch's locks (BatchWrites.lock) let them.
 * - No savepoints (they cost two round trips per write): a write is planned from what it read
 *   before any of its statements is sent, so a refusal leaves the transaction as it was; the write
 *   is rejected alone and the batch goes on. A statement that fails aborts the whole transaction
 *   in PostgreSQL: the batch is rolled back and its writes run again, one transaction each, in
 *   the same order, so the one that fails fails alone and the others land as they would have.
 * - Nothing is resolved before the COMMIT that holds it has returned. If PostgreSQL aborted the
 *   transaction to break a deadlock, the whole batch runs again first; if it failed without an
 *   answer from the database (the connection dropped), every write of the batch is rejected (a
 *   retry of the same event id is idempotent, whether or not COMMIT landed).
 * - The first batch starts on setImmediate, after the poll phase has handed every request that
 *   arrived to its handler; later ones start as soon as the one before has committed.
 */
export class GroupCommit<I, O> {
  private readonly queue: Queued<I, O>[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly writes: BatchWrites<I, O>,
    /** Writes per transaction at most, so one commit (and the locks it holds) stays short. */
    private readonly maxBatch = 256,
    /** Told how long each batch's transaction took, BEGIN to COMMIT (the WAL flush included). */
    private readonly onCommit?: CommitObserver,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is committed (or refused). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      // Submitted after the last batch was taken but before this callback ran.
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) await this.commitBatch(this.queue.splice(0, this.maxBatch));
  }

  /**
   * Round trips: BEGIN with the batch's locks and the first write's read; then each write's
   * statements with the next write's read; the last write's with COMMIT. A lone append: two. Each
   * read is a statement of its own after the locks': it starts (READ COMMITTED: takes its
   * snapshot) once they are held, so it sees all that their previous holders committed, and the
   * writes before it in the batch.
   */
  private async commitBatch(batch: readonly Queued<I, O>[]): Promise<void> {
    const inputs = batch.map((q) => q.input);
    let outcomes: Outcome<O>[];
    const start = process.hrtime.bigint();
    try {
      outcomes = await transactionAround(
        this.pool,
        { first: [this.writes.lock(inputs), this.writes.read(inputs[0]!)], prepare: this.writes.prepare },
        async (db, firstRead) => {
          const results: Outcome<O>[] = [];
          let pending: readonly Statement[] = [];
          for (const [i, input] of inputs.entries()) {
            const read = i === 0 ? firstRead : await together(db, [...pending, this.writes.read(input)]);
            const planned = this.plan(input, read);
            results.push(planned.outcome);
            pending = planned.statements;
          }
          return { value: results, last: pending };
        },
      );
    } catch (error) {
      observe(this.onCommit, { writes: batch.length, seconds: secondsSince(start), ok: false });
      // A statement failed in the database (a deadlock was already retried by transactionAround):
      // which write's fault it was, and what it undid, only the writes alone can tell.
      if (batch.length > 1 && error instanceof DatabaseError)
        for (const q of batch) await this.commitBatch([q]);
      else rejectAll(batch, error);
      return;
    }
    observe(this.onCommit, { writes: batch.length, seconds: secondsSince(start), ok: true });
    settle(batch, outcomes);
  }

  /** A write that throws (a refusal) sent nothing: it is rejected alone, the batch goes on. */
  private plan(input: I, read: QueryResultRow[]): { outcome: Outcome<O>; statements: readonly Statement[] } {
    try {
      const { value, statements } = this.writes.write(input, read);
      return { outcome: { ok: true, value }, statements };
    } catch (error) {
      return { outcome: { ok: false, error: asError(error) }, statements: [] };
    }
  }
}

/** What a batch does, in parts, so that GroupCommit can put their statements together. */
export interface BatchWrites<I, O> {
  /** What the parts run by name, prepared on each connection before its first batch. */
  prepare: readonly PreparedText[];
  /** The batch's locks (sent with BEGIN). */
  lock(inputs: readonly I[]): Statement;
  /** The one statement that reads all a write checks, run once the batch holds its locks. */
  read(input: I): Statement;
  /**
   * The write, given what `read` returned: its answer, and the statements that make it so, which
   * GroupCommit sends. It sends nothing itself, so a refusal it throws changes nothing.
   */
  write(input: I, read: QueryResultRow[]): { value: O; statements: readonly Statement[] };
}
