import type { CommitObserver } from "./commit-observer.js";
import { isPostgresUrl, openPostgresStorage, redactedUrl } from "./postgres/postgres-storage.js";
import { openSqliteStorage } from "./sqlite/sqlite-storage.js";
import type { Storage } from "./storage.js";

export interface OpenStorageOptions {
  /** Where SQLite keeps backchannel.sqlite: the default storage, used when no URL is given. */
  dataDir: string;
  /** A postgres:// or postgresql:// URL selects PostgreSQL (dataDir is then unused). */
  databaseUrl?: string | undefined;
  /** Told about each group commit of appends (the relay's metrics). */
  onCommit?: CommitObserver | undefined;
}

/** Opens the storage the options select, its schema brought up to date. */
export function openStorage(options: OpenStorageOptions): Promise<Storage> {
  const { databaseUrl } = options;
  const onCommit = options.onCommit ? { onCommit: options.onCommit } : {};
  if (databaseUrl === undefined) return openSqliteStorage({ dataDir: options.dataDir, ...onCommit });
  if (!isPostgresUrl(databaseUrl))
    return Promise.reject(new Error("a database URL must start with postgres:// or postgresql://"));
  return openPostgresStorage({ databaseUrl, ...onCommit });
}

/** Which storage, for people (the startup line): the URL never with its password. */
export function describeStorage(options: OpenStorageOptions): string {
  return options.databaseUrl === undefined
    ? `SQLite in ${options.dataDir}`
    : `PostgreSQL at ${redactedUrl(options.databaseUrl)}`;
}
