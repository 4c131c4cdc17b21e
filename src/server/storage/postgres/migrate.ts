import { escapeIdentifier, type PoolClient } from "pg";
import type { Migration } from "../migration.js";
import { migrations as all } from "./migrations/index.js";
import { advisoryLock, takeLock } from "./transaction.js";

/**
 * Brings the schema up to date, in one transaction that first takes the migrations lock: relay
 * nodes starting together queue there, and each one after the first finds the work done (DDL is
 * transactional in PostgreSQL, so a failed migration leaves nothing half made). Refuses a
 * schema written by a newer relay, as the SQLite backend does.
 */
export async function migrate(
  db: PoolClient,
  schema: string | undefined,
  migrations: readonly Migration[] = all,
): Promise<void> {
  await db.query("BEGIN");
  try {
    await takeLock(db, advisoryLock.migrations);
    if (schema !== undefined) await db.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
    await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name    text NOT NULL
    )`);
    const applied = new Set(
      (await db.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map(
        (r) => r.version,
      ),
    );
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length > 0) {
      throw new Error(`database has schema versions this relay does not know: ${unknown.join(", ")}`);
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await db.query(m.sql);
      await db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
    }
    await db.query("COMMIT");
  } catch (error) {
    // If the connection itself failed, there is nothing to roll back: the error that matters is the first.
    await db.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
