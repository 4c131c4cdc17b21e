import Database from "better-sqlite3";
import { BackupError } from "./backup-error.js";

/**
 * Refuses (relay_running) when another connection has `file` open, as a running relay does.
 *
 * How it knows: the relay's database is in WAL mode, and in WAL mode every open connection holds
 * a shared POSIX lock on the database file from its first read until it closes, idle or not
 * (SQLite keeps it so that the last connection to close knows it may checkpoint and delete the
 * WAL). A connection in exclusive locking mode asking for an exclusive lock, without waiting, gets
 * SQLITE_BUSY exactly when some other process has the file open. Unlike a pid file, this cannot go
 * stale: the kernel drops the lock when the holder exits, kill -9 included, and it works across
 * containers sharing the volume. It does not work over network filesystems with broken locking
 * (where SQLite itself is unsafe anyway).
 *
 * Exclusive locking mode set before the first read means SQLite never maps the shared-memory
 * index, so the probe cannot disturb a relay that holds it; if nobody has the file open, any WAL a
 * crashed relay left is checkpointed into the file on close, as the next relay would have done.
 * The check and the replacement that follows are not one step: a relay started during the
 * restore itself is not caught. It guards against the ordinary mistake, a relay left running.
 */
export function assertNotInUse(file: string): void {
  const db = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
  } catch (error) {
    if (!(error instanceof Database.SqliteError)) throw error;
    if (error.code.startsWith("SQLITE_BUSY") || error.code.startsWith("SQLITE_LOCKED"))
      throw new BackupError(
        "relay_running",
        `${file} is open in another process (most likely a running relay): stop it first`,
        { cause: error },
      );
    // Not a database at all (SQLITE_NOTADB): nothing can be using it as one.
    if (!error.code.startsWith("SQLITE_NOTADB")) throw error;
  } finally {
    db.close();
  }
}
