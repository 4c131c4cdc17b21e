import { createReadStream, createWriteStream } from "node:fs";
import { chown, mkdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import Database from "better-sqlite3";
import { BackupError } from "./backup-error.js";
import { assertSqliteHeader, checkRelayDatabase } from "./check-relay-database.js";
import { assertNotInUse } from "./database-in-use.js";
import { exists, putInPlace, removeFiles, sameFile, sidecars, withTempBeside } from "./file-steps.js";
import { sqliteFileName } from "./open-database.js";

export interface RestoreOptions {
  /** The data dir to restore into; created (0700) if missing. */
  dataDir: string;
  /** A backup made by `admin backup` (any copy of a relay database with no WAL beside it). */
  file: string;
  /** Replace a database the data dir already holds; default false. Never while it is in use. */
  force?: boolean;
}

export interface RestoreResult {
  database: string;
  bytes: number;
  schemaVersion: number;
  /** Whether a database was there before (and is now gone). */
  replaced: boolean;
  durationMs: number;
}

/**
 * Puts a backup in place as the data dir's database, for a relay to be started on. In order:
 * the file must look like SQLite, with no WAL beside it; the data dir must hold no database
 * (unless `force`) and no process may have one open (database-in-use.ts); then the file is copied
 * under a temp name (0600), and the copy must be a relay database this relay can run, undamaged
 * (check-relay-database.ts). Only then does it replace anything, by rename, after a second look
 * that no relay started meanwhile, and after removing any WAL left beside the old database
 * (SQLite would replay a stale WAL onto the restored file). On any refusal nothing has changed.
 */
export async function restoreDatabase(options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const file = resolve(options.file);
  const dataDir = resolve(options.dataDir);
  const target = resolve(dataDir, sqliteFileName);
  if (!(await exists(file))) throw new BackupError("no_file", `${file} does not exist`);
  await assertSqliteHeader(file);
  if (((await stat(`${file}-wal`).catch(() => undefined))?.size ?? 0) > 0)
    throw new BackupError(
      "not_a_backup",
      `${file}-wal lies beside ${file}: that is a live or crashed relay's database, part of it still in the WAL; make a copy with \`backchannel admin backup\``,
    );
  if (file === target || (await sameFile(file, target)))
    throw new BackupError("same_file", `${file} is the data dir's database itself`);
  const replaced = await exists(target);
  if (replaced && !options.force)
    throw new BackupError(
      "database_exists",
      `${target} exists (--force replaces it; keep a backup of it first)`,
    );
  if (replaced) assertNotInUse(target);

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const schemaVersion = await withTempBeside(target, async (tmp) => {
    await pipeline(createReadStream(file), createWriteStream(tmp, { flags: "r+" }));
    // Run as root (an operator restoring for a service with a user of its own, as the systemd
    // unit's DynamicUser), the file goes to the data dir's owner, as SQLite does with the files it
    // creates as root: a root-owned 0600 database is one the relay cannot open.
    if (process.getuid?.() === 0) {
      const { uid, gid } = await stat(dataDir);
      await chown(tmp, uid, gid);
    }
    const version = checkCopy(tmp, file);
    // Again: a relay may have been started on the old database while the copy was made.
    if (replaced) assertNotInUse(target);
    await removeFiles(sidecars(target));
    await putInPlace(tmp, target);
    return version;
  });
  return {
    database: target,
    bytes: (await stat(target)).size,
    schemaVersion,
    replaced,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Checks the copy about to be put in place (not the original, which could change meanwhile). */
function checkCopy(copy: string, name: string): number {
  const db = new Database(copy, { fileMustExist: true });
  try {
    return checkRelayDatabase(db, name);
  } finally {
    db.close();
  }
}
