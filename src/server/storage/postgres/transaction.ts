import { DatabaseError, type Pool, type PoolClient, type QueryResult, type QueryResultRow } from "pg";
import { prepareOn } from "./prepared.js";
import { executing, inline, type PreparedText, type Statement } from "./statement.js";

/** A pool (each query its own transaction) or a client inside one. */
export type Queryable = Pool | PoolClient;

export async function rows<R extends QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  return (await db.query<R>(text, values)).rows;
}

export async function firstRow<R extends QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<R | undefined> {
  return (await db.query<R>(text, values)).rows[0];
}

/** How many rows a statement changed. */
export async function changed(db: Queryable, text: string, values: unknown[] = []): Promise<number> {
  return (await db.query(text, values)).rowCount ?? 0;
}

/**
 * Keys of transaction-scoped advisory locks (pg_advisory_xact_lock). Fixed numbers, so every relay
 * node on the database takes the same lock. ASCII "bcmigrat" and "bc-staff".
 */
export const advisoryLock = {
  /** Held while a node migrates the schema: several nodes starting at once migrate it once. */
  migrations: "7089630537885835636",
  /**
   * Taken by the transactions that change which devices a mediator has and which channels and
   * caucuses they are in (links, removal of a device, new caucuses): rare, so one lock for all of
   * them keeps their checks simple. Appends never take it; they lock caucus rows.
   */
  staff: "7089560212308321894",
} as const;

export async function takeLock(db: PoolClient, key: string): Promise<void> {
  await db.query("SELECT pg_advisory_xact_lock($1)", [key]);
}

/**
 * Locks caucus rows for the rest of the transaction, in one order (caucus id, byte-wise) in every
 * transaction that locks more than one, so two of them never wait on each other. FOR NO KEY
 * UPDATE is the lock an UPDATE of the head takes: it queues writers of the same caucus behind each
 * other, on any node, and still lets rows that merely reference the caucus (an invite) be added.
 */
export async function lockCaucuses(db: PoolClient, caucusIds: readonly string[]): Promise<void> {
  if (caucusIds.length === 0) return;
  await db.query(lockCaucusesStatement(caucusIds));
}

/** Prepared where the group commit runs it (prepared.ts); lockCaucuses sends its text. */
export const lockCaucusesText: PreparedText = {
  name: "bc_lock_caucuses",
  text: `SELECT 1 FROM caucuses WHERE caucus_id = ANY($1::text[])
         ORDER BY caucus_id COLLATE "C" FOR NO KEY UPDATE`,
};

export const lockCaucusesStatement = (caucusIds: readonly string[]): Statement =>
  executing(lockCaucusesText, [[...new Set(caucusIds)]]);

/** Deadlock or serialization failure: PostgreSQL rolled the transaction back, and it may be run again. */
export const isTransient = (error: unknown): boolean =>
  error instanceof DatabaseError && (error.code === "40P01" || error.code === "40001");

const maxAttempts = 5;

/**
 * Runs `body` in one READ COMMITTED transaction, the default: each statement sees what committed
 * before it, and a statement that waits for a row lock sees that row as the holder left it. The
 * check-then-write races this leaves are closed by the locks each body takes first (caucus rows,
 * invite and link rows, the staff lock), not by a stricter isolation level. Run again from the
 * start if PostgreSQL broke a deadlock by aborting it; `body` must therefore not act outside the
 * database.
 */
export function transaction<T>(pool: Pool, body: (db: PoolClient) => Promise<T>): Promise<T> {
  return transactionAround(pool, {}, async (db) => ({ value: await body(db), last: [] }));
}

/**
 * transaction(), in fewer round trips: `first` goes with BEGIN (the body gets the rows of its last
 * statement) and the statements the body ends with, `last`, go with COMMIT, each in one query.
 * What they and the body run by name is prepared on the connection first (prepared.ts).
 */
export async function transactionAround<T>(
  pool: Pool,
  { first = [], prepare = [] }: { first?: readonly Statement[]; prepare?: readonly PreparedText[] },
  body: (db: PoolClient, opened: QueryResultRow[]) => Promise<{ value: T; last: readonly Statement[] }>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const db = await pool.connect();
    try {
      await prepareOn(db, prepare);
    } catch (error) {
      db.release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    let broken: Error | undefined;
    try {
      const { value, last } = await body(db, await together(db, ["BEGIN", ...first]));
      await together(db, [...last, "COMMIT"]);
      return value;
    } catch (error) {
      try {
        await db.query("ROLLBACK");
      } catch (rollbackError) {
        // The connection is gone or unusable: the pool must not hand it out again.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      if (!isTransient(error) || attempt >= maxAttempts) throw error;
    } finally {
      db.release(broken);
    }
  }
}

/**
 * Statements in one round trip: written in (statement.ts, `inline`) and sent as one query without
 * parameters, which node-pg sends over the simple protocol. PostgreSQL runs them in order, each a
 * statement of its own (its own snapshot at READ COMMITTED), and stops at the first that fails.
 * Returns the last one's rows.
 */
export async function together(
  db: PoolClient,
  statements: readonly (Statement | string)[],
): Promise<QueryResultRow[]> {
  // Several statements in one query: node-pg answers with a result each.
  const results = (await db.query(statements.map(inline).join("; "))) as
    QueryResult<QueryResultRow> | QueryResult<QueryResultRow>[];
  return Array.isArray(results) ? results.at(-1)!.rows : results.rows;
}
