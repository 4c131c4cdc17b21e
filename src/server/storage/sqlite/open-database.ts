import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { migrate } from "./migrate.js";
import type { CommitObserver } from "../commit-observer.js";

export const sqliteFileName = "backchannel.sqlite";

export type SqliteStorageOptions = ({ dataDir: string } | { inMemory: true }) & {
  /** Told about each group commit (metrics). */
  onCommit?: CommitObserver;
};

/** Creates the data dir if missing, opens the file with the settings durability needs, migrates. */
export function openDatabase(options: SqliteStorageOptions): Database.Database {
  let file = ":memory:";
  if ("dataDir" in options) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    file = join(options.dataDir, sqliteFileName);
    // SQLite gives the WAL and shared-memory files the database file's mode, so creating the file
    // 0600 first keeps all three private whatever the umask, as a restored database is.
    closeSync(openSync(file, "a", 0o600));
  }
  const db = new Database(file);
  try {
    db.pragma("journal_mode = WAL");
    // FULL: a commit is on disk before we acknowledge it, so an acknowledged event survives kill -9
    // and power loss (invariant 6). NORMAL would only survive a process crash.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
