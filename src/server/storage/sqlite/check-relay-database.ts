import Database from "better-sqlite3";
import { BackupError } from "./backup-error.js";
import { readStart } from "./file-steps.js";
import { appliedVersions, hasSchemaTable, latestVersion, unknownVersions } from "./schema-versions.js";

const sqliteMagic = Buffer.from("SQLite format 3\0", "latin1");

/** Refuses a file that does not start as every SQLite database does, before anything reads more of it. */
export async function assertSqliteHeader(file: string): Promise<void> {
  if (!(await readStart(file, sqliteMagic.length)).equals(sqliteMagic))
    throw new BackupError("not_a_relay_database", `${file} is not an SQLite database`);
}

/**
 * The checks a database must pass before a relay is given it, in this order: it is a Backchannel
 * relay's (its schema table is there), this relay can run it (no schema version newer than it
 * knows; an older one is migrated at start), and SQLite finds no damage (`PRAGMA integrity_check`,
 * which reads every page). Returns its schema version.
 */
export function checkRelayDatabase(db: Database.Database, name: string): number {
  try {
    if (!hasSchemaTable(db))
      throw new BackupError(
        "not_a_relay_database",
        `${name} is an SQLite database but not a Backchannel relay's (no schema_migrations table)`,
      );
    const applied = appliedVersions(db);
    const unknown = unknownVersions(applied);
    if (unknown.length > 0)
      throw new BackupError(
        "schema_too_new",
        `${name} was written by a newer relay (schema version ${Math.max(...unknown)}; this relay knows up to ${latestVersion()}): restore it with that version or newer`,
      );
    if (applied.length === 0)
      throw new BackupError(
        "not_a_relay_database",
        `${name} records no schema version: not a relay database`,
      );
    const problems = (db.pragma("integrity_check(5)") as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
    if (problems.join() !== "ok")
      throw new BackupError("database_damaged", `${name} is damaged: ${problems.join("; ")}`);
    return Math.max(...applied);
  } catch (error) {
    if (error instanceof Database.SqliteError && /^SQLITE_(CORRUPT|NOTADB)/.test(error.code))
      throw new BackupError("database_damaged", `${name} is damaged: ${error.message}`, { cause: error });
    throw error;
  }
}
