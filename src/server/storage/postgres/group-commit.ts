import type { Pool, PoolClient } from "pg";
import { asError, rejectAll, settle, type Outcome, type Queued } from "../batch.js";
import { isTransient, transaction } from "./transaction.js";

/**
 * Group commit, as sqlite/group-commit.ts does it, for a database across the network: writes
 * submitted while the previous batch commits share the next transaction, so one WAL flush
 * (synchronous_commit on) makes them all durable.
 *
 * - One batch at a time per storage, its writes applied in submission order, each in a savepoint:
 *   one that throws is rolled back and rejected alone; the others see exactly the state they would
 *   have seen one at a time. Another node's batches interleave only where `begin` lets them.
 * - Nothing is resolved before the batch's COMMIT has returned. If the transaction as a whole
 *   fails (the connection dropped, COMMIT failed), every write of the batch is rejected; if
 *   PostgreSQL aborted it to break a deadlock, the whole batch runs again first.
 * - The first batch starts on setImmediate, after the poll phase has handed every request that
 *   arrived to its handler; later ones start as soon as the one before has committed.
 */
export class GroupCommit<I, O> {
  private readonly queue: Queued<I, O>[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    /** Runs first in each batch's transaction, given the batch (to take its locks). */
    private readonly begin: (db: PoolClient, inputs: readonly I[]) => Promise<void>,
    /** One write; runs inside a savepoint of the batch's transaction. */
    private readonly apply: (db: PoolClient, input: I) => Promise<O>,
    /** Writes per transaction at most, so one commit (and the locks it holds) stays short. */
    private readonly maxBatch = 256,
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

  private async commitBatch(batch: readonly Queued<I, O>[]): Promise<void> {
    let outcomes: Outcome<O>[];
    try {
      outcomes = await transaction(this.pool, async (db) => {
        await this.begin(
          db,
          batch.map((q) => q.input),
        );
        const results: Outcome<O>[] = [];
        for (const q of batch) results.push(await this.applyOne(db, q.input));
        return results;
      });
    } catch (error) {
      rejectAll(batch, error);
      return;
    }
    settle(batch, outcomes);
  }

  private async applyOne(db: PoolClient, input: I): Promise<Outcome<O>> {
    await db.query("SAVEPOINT write");
    try {
      const value = await this.apply(db, input);
      await db.query("RELEASE SAVEPOINT write");
      return { ok: true, value };
    } catch (error) {
      // PostgreSQL chose this transaction to break a deadlock: the locks the batch holds are part
      // of the cycle, so the whole batch is rolled back and run again. Anything else is this
      // write's alone. (If the connection broke, the rollback throws and fails the batch.)
      if (isTransient(error)) throw error;
      await db.query("ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write");
      return { ok: false, error: asError(error) };
    }
  }
}
