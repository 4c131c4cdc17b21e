import type { PoolClient } from "pg";
import type { PreparedText } from "./statement.js";

/**
 * Statements prepared on a connection once (PREPARE) and run by name (EXECUTE, statement.ts's
 * inline) inside the simple-protocol queries of the group commit, which node-pg's own named
 * statements cannot join. Parsing and planning an append's statements was about a third of
 * PostgreSQL's CPU per append. They live as long as the database session: the relay's connections
 * must be sessions of their own (directly, or through a pooler in session mode). The names share
 * the session with node-pg's named statements: ours start with `bc_`.
 */
const preparedOn = new WeakMap<PoolClient, Set<string>>();

/**
 * Prepares those of `statements` this connection has not, in one query outside any transaction.
 * If it throws, drop the connection: PREPARE is not undone by a rollback, so some of them may
 * exist on it now, and preparing them again would fail.
 */
export async function prepareOn(db: PoolClient, statements: readonly PreparedText[]): Promise<void> {
  const done = preparedOn.get(db) ?? new Set<string>();
  const missing = statements.filter((s) => !done.has(s.name));
  if (missing.length === 0) return;
  await db.query(missing.map((s) => `PREPARE ${s.name} AS ${s.text}`).join("; "));
  for (const s of missing) done.add(s.name);
  preparedOn.set(db, done);
}
