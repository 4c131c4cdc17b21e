import type Database from "better-sqlite3";
import { migrations as all } from "./migrations/index.js";
import type { Migration } from "../migration.js";
import { appliedVersions, unknownVersions } from "./schema-versions.js";

/**
 * Brings the schema up to date. Refuses a database written by a newer relay: running old code on
 * a newer schema could silently break the rules the newer code relies on.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = all): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name    TEXT NOT NULL
  ) STRICT`);
  const applied = new Set(appliedVersions(db));
  const unknown = unknownVersions([...applied], migrations);
  if (unknown.length > 0) {
    throw new Error(`database has schema versions this relay does not know: ${unknown.join(", ")}`);
  }
  const record = db.prepare("INSERT INTO schema_migrations (version, name) VALUES (?, ?)");
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name);
    }).immediate();
  }
}
