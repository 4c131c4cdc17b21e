import { BackchannelError } from "../../../protocol/index.js";

/**
 * Why `admin backup` or `admin restore` refused, or failed. Nothing was changed in either case
 * (a half-written copy is removed, never left under the final name).
 * - no_database: the data dir holds no relay database to back up.
 * - no_directory: the backup file's directory does not exist.
 * - file_exists: the backup file exists (`--force` replaces it).
 * - no_file: the file to restore does not exist.
 * - same_file: the backup would overwrite the live database, or restore it onto itself.
 * - database_exists: the data dir already holds a database (`--force` replaces it).
 * - relay_running: a relay (or another program) has the data dir's database open: stop it first.
 * - not_a_relay_database: not an SQLite file, or one without the relay's schema table.
 * - not_a_backup: a write-ahead log lies beside the file: it is a live (or crashed) relay's
 *   database, part of whose content is in that log, not a backup.
 * - schema_too_new: written by a newer relay than this one.
 * - database_damaged: SQLite's integrity check found damage.
 */
export type BackupErrorCode =
  | "no_database"
  | "no_directory"
  | "file_exists"
  | "no_file"
  | "same_file"
  | "database_exists"
  | "relay_running"
  | "not_a_relay_database"
  | "not_a_backup"
  | "schema_too_new"
  | "database_damaged";

export class BackupError extends BackchannelError {
  declare readonly code: BackupErrorCode;

  constructor(code: BackupErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
