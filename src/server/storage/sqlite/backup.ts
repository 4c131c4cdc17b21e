import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { BackupError } from "./backup-error.js";
import { exists, putInPlace, sameFile, sidecars, withTempBeside } from "./file-steps.js";
import { sqliteFileName } from "./open-database.js";
import { appliedVersions, hasSchemaTable } from "./schema-versions.js";

export interface BackupProgress {
  pagesCopied: number;
  totalPages: number;
}

export interface BackupOptions {
  /** The relay's data dir, holding backchannel.sqlite. */
  dataDir: string;
  /** Where the copy goes; its directory must exist. */
  file: string;
  /** Replace `file` if it exists; default false. */
  force?: boolean;
  /** Pages copied per step (the event loop runs between steps); default 2,560 (10 MiB of 4 KiB pages). */
  pagesPerStep?: number;
  /** Called after each step, and once at the end. */
  onProgress?: (progress: BackupProgress) => void;
}

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
  schemaVersion: number;
  durationMs: number;
}

const defaultPagesPerStep = 2_560;

/**
 * Copies the relay's SQLite database to `file` while the relay keeps serving, with SQLite's
 * online backup API. The copy is the database as it was at one instant (a consistent snapshot:
 * every acknowledged event up to then, nothing half-written), appears under `file` only once
 * complete and on disk, and is 0600 from its first byte.
 *
 * The whole copy runs in one read transaction. Otherwise each backup step would take a snapshot
 * of its own, and a write by the relay between two steps would make SQLite restart the copy from
 * page 1, again and again on a busy relay. In WAL mode a reader blocks no writer: the relay keeps
 * appending meanwhile (its WAL cannot be checkpointed past this snapshot until the copy ends, so
 * it grows for as long as the copy takes). The source is opened read-only: a backup never
 * changes the live database.
 */
export async function backupDatabase(options: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  const source = resolve(options.dataDir, sqliteFileName);
  const file = resolve(options.file);
  if (!(await exists(source)))
    throw new BackupError(
      "no_database",
      `no relay database at ${source} (a relay that stores in PostgreSQL is backed up with pg_dump: set BACKCHANNEL_DATABASE_URL)`,
    );
  if ([source, ...sidecars(source)].includes(file) || (await sameFile(file, source)))
    throw new BackupError("same_file", `${file} is the relay's database itself: choose another file`);
  if (!(await exists(dirname(file))))
    throw new BackupError("no_directory", `${dirname(file)} does not exist`);
  if (!options.force && (await exists(file)))
    throw new BackupError("file_exists", `${file} exists (--force replaces it)`);

  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.exec("BEGIN");
    const schemaVersion = schemaVersionOf(db, source);
    const step = options.pagesPerStep ?? defaultPagesPerStep;
    const pages = await withTempBeside(file, async (tmp) => {
      const { totalPages } = await db.backup(tmp, {
        progress: ({ totalPages, remainingPages }) => {
          options.onProgress?.({ pagesCopied: totalPages - remainingPages, totalPages });
          return step;
        },
      });
      options.onProgress?.({ pagesCopied: totalPages, totalPages });
      await putInPlace(tmp, file);
      return totalPages;
    });
    db.exec("COMMIT");
    return {
      file,
      bytes: (await stat(file)).size,
      pages,
      schemaVersion,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    db.close();
  }
}

/** The relay's schema version, read in the snapshot being copied. */
function schemaVersionOf(db: Database.Database, name: string): number {
  const versions = hasSchemaTable(db) ? appliedVersions(db) : [];
  if (versions.length === 0)
    throw new BackupError("not_a_relay_database", `${name} is not a Backchannel relay database`);
  return Math.max(...versions);
}
