import type { Pool } from "pg";
import { RateLimiterRes } from "rate-limiter-flexible";
import type { RateLimit } from "./limits-config.js";

/**
 * Rate-limit counters shared through PostgreSQL without a round trip per request. Each node counts
 * in its own memory and sends what it admitted to the shared table in batches: one statement for
 * every counter it touched, at most `flushMs` after the first point of the batch, or at once when
 * one key has `slack` points the table has not heard of. The answer of each batch (every
 * counter's shared total and window end) is what the node then counts on.
 *
 * The bound, per key and fixed window, while the table answers (and the nodes' clocks agree, which
 * the window's end, written by whichever node starts it, assumes as rate-limiter-flexible does): a node admits a point only if its
 * last known shared total plus its own unsent points stays under the limit, and never holds more
 * than `slack` unsent points (including a batch on its way). So N nodes admit at most
 * `points + (N - 1) × slack` in one window. Take the node whose answer under the limit came last
 * (total T < points): every node's points up to its own last such answer are in T; that node then
 * admits at most points - T more (it counts its own), and each other node at most `slack` before
 * an answer says the limit is reached. One node is exact. With `slack` one twentieth of the limit
 * (at least 1), three nodes overshoot by at most a tenth (or 2 points).
 *
 * A key over its limit is refused from memory until its window ends: a flood costs the database
 * nothing. If the table cannot be reached, each node counts alone (at most N × points then, as
 * rate-limiter-flexible's in-memory insurance did) and sends its points when it answers again.
 */
export interface BatchOptions {
  /** The longest a point waits in memory before it is sent (and the node hears the others'). */
  flushMs: number;
  /** The share of a limit one node may admit unsent: slack = max(1, floor(points × share)). */
  slackShare: number;
}

export const defaultBatchOptions: BatchOptions = { flushMs: 100, slackShare: 1 / 20 };

/** What one node knows of one counter (key: the limit's name, a colon, the counted key). */
interface Tally {
  readonly limit: Limit;
  /** The shared total as of this node's last answer for it (its own sent points included). */
  known: number;
  /** When the window ends, ms since the epoch: the table's once it answered, else provisional. */
  expire: number;
  /** Admitted here, not yet sent. */
  unsent: number;
  /** Admitted here, in the batch on its way. */
  sending: number;
}

interface Limit {
  points: number;
  durationMs: number;
  slack: number;
}

/** One statement per batch: rate-limiter-flexible's upsert (same table, keys and window rule), for many keys. */
const addBatch = (table: string) => ({
  name: `bc-limits-add-${table}`,
  text: `INSERT INTO ${table} (key, points, expire)
  SELECT key, points, expire FROM unnest($1::text[], $2::int[], $3::bigint[]) AS b(key, points, expire) ORDER BY key
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN ${table}.expire <= $4 THEN EXCLUDED.points ELSE ${table}.points + EXCLUDED.points END,
    expire = CASE WHEN ${table}.expire <= $4 THEN EXCLUDED.expire ELSE ${table}.expire END
  RETURNING key, points, expire`,
});

export class BatchedCounts {
  private readonly tallies = new Map<string, Tally>();
  /** Keys with unsent points. */
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** False after a batch failed, until one goes through: meanwhile the node counts alone. */
  private reachable = true;
  private nextSweep = 0;
  private readonly statement: { name: string; text: string };

  constructor(
    private readonly pool: Pool,
    table: string,
    private readonly options: BatchOptions = defaultBatchOptions,
  ) {
    this.statement = addBatch(table);
  }

  /** A counter with rate-limiter-flexible's consume: resolves, or rejects with a RateLimiterRes. */
  counter(name: string, { points, seconds }: RateLimit): { consume(key: string): Promise<RateLimiterRes> } {
    const limit: Limit = {
      points,
      durationMs: seconds * 1000,
      slack: Math.max(1, Math.floor(points * this.options.slackShare)),
    };
    return { consume: (key) => this.consume(`${name}:${key}`, limit) };
  }

  private async consume(key: string, limit: Limit): Promise<RateLimiterRes> {
    for (;;) {
      const now = Date.now();
      const t = this.tally(key, limit, now);
      const counted = t.known + t.sending + t.unsent;
      // rate-limiter-flexible's contract, which RelayLimits reads: a refusal rejects with the result.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (counted >= limit.points) throw new RateLimiterRes(0, t.expire - now, counted, false);
      if (!this.reachable || t.sending + t.unsent < limit.slack) {
        t.unsent++;
        this.dirty.add(key);
        this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs).unref();
        return new RateLimiterRes(limit.points - counted - 1, t.expire - now, counted + 1, false);
      }
      // This node holds its share of unsent points for the key: send them, hear the others'.
      await this.flush();
    }
  }

  /** The key's tally, started afresh once its window is over (unsent points of an ended window no longer count). */
  private tally(key: string, limit: Limit, now: number): Tally {
    let t = this.tallies.get(key);
    if (!t) {
      t = { limit, known: 0, expire: now + limit.durationMs, unsent: 0, sending: 0 };
      this.tallies.set(key, t);
    } else if (t.expire <= now) {
      t.known = 0;
      t.unsent = 0;
      t.expire = now + limit.durationMs;
    }
    return t;
  }

  /** Sends the unsent points, after the batch on its way if there is one; resolves once answered (or failed). */
  flush(): Promise<void> {
    this.queued ??= (this.running ?? Promise.resolve()).then(() => {
      this.queued = undefined;
      const run = this.send();
      this.running = run;
      return run.finally(() => {
        if (this.running === run) this.running = undefined;
      });
    });
    return this.queued;
  }

  private async send(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    this.forgetEnded(now);
    // Sorted: batches from several nodes lock their rows in one order, so they cannot deadlock.
    const keys = [...this.dirty].filter((key) => this.tallies.get(key)!.unsent > 0).sort();
    this.dirty.clear();
    if (keys.length === 0) return;
    const batch = keys.map((key) => {
      const t = this.tallies.get(key)!;
      t.sending = t.unsent;
      t.unsent = 0;
      return t;
    });
    try {
      const { rows } = await this.pool.query<{ key: string; points: number; expire: string | number }>({
        ...this.statement,
        values: [keys, batch.map((t) => t.sending), batch.map((t) => now + t.limit.durationMs), now],
      });
      for (const row of rows) {
        const t = this.tallies.get(row.key);
        if (!t) continue;
        t.known = row.points;
        t.expire = Number(row.expire);
      }
      for (const t of batch) t.sending = 0;
      this.reachable = true;
    } catch {
      // Counted again with the next batch; meanwhile this node counts alone.
      for (const [i, t] of batch.entries()) {
        t.unsent += t.sending;
        t.sending = 0;
        if (t.unsent > 0) this.dirty.add(keys[i]!);
      }
      this.reachable = false;
      this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs).unref();
    }
  }

  /** Tallies of ended windows with nothing to send, every few seconds: a key seen once is not kept for ever. */
  private forgetEnded(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + 10_000;
    for (const [key, t] of this.tallies)
      if (t.expire <= now && t.sending === 0 && !this.dirty.has(key)) this.tallies.delete(key);
  }

  /** Sends what is unsent (a node stopping hands its points over) and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
