import type Database from "better-sqlite3";
import type { Migration } from "../migration.js";
import { migrations as all } from "./migrations/index.js";

/** Whether the database has the table that records its migrations (every relay database has). */
export function hasSchemaTable(db: Database.Database): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get() !==
    undefined
  );
}

/** The migrations recorded in a relay database, by version, oldest first. */
export function appliedVersions(db: Database.Database): number[] {
  return (
    db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]
  ).map((r) => r.version);
}

/**
 * Applied versions this relay has no migration for: the database was written by a newer relay.
 * Running old code on a newer schema could silently break rules the newer code relies on, so both
 * `migrate` (at start) and `admin restore` refuse such a database.
 */
export function unknownVersions(
  applied: readonly number[],
  migrations: readonly Migration[] = all,
): number[] {
  const known = new Set(migrations.map((m) => m.version));
  return applied.filter((v) => !known.has(v));
}

/** The newest schema version this relay knows. */
export const latestVersion = (migrations: readonly Migration[] = all): number =>
  Math.max(...migrations.map((m) => m.version));
