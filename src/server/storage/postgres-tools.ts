/**
 * The commands an operator runs to back up and restore a relay that stores in PostgreSQL: the
 * relay's own `admin backup` cannot do better than pg_dump, which takes a consistent snapshot
 * while every node keeps serving. Printed for people to run, so never with a password (pg_dump
 * asks for it, or reads PGPASSWORD or ~/.pgpass).
 */

/**
 * The relay's URL as libpq (pg_dump, pg_restore) reads it, without any password. The relay reads
 * its query the way node-postgres does, `+` as a space included; libpq decodes only `%XX`, so each
 * parameter is written again with `%20`.
 */
export function libpqUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.password = "";
  const params = [...url.searchParams].filter(([key]) => !key.toLowerCase().includes("password"));
  url.search = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  return url.toString();
}

/** The schema named by the URL's `options=-c search_path=…`, where the relay keeps its tables. */
export function schemaOf(databaseUrl: string): string | undefined {
  const options = new URL(databaseUrl).searchParams.get("options") ?? "";
  return /search_path\s*=\s*"?([^\s,"]+)/.exec(options)?.[1];
}

/** Quotes for a POSIX shell: the value is passed as it is, whatever it holds. */
export const shellQuote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;

/** pg_dump in its custom format (compressed; pg_restore can pick and reorder from it). */
export function pgDumpCommand(databaseUrl: string, file: string): string {
  const schema = schemaOf(databaseUrl);
  return [
    "pg_dump --format=custom",
    ...(schema ? [`--schema=${shellQuote(schema)}`] : []),
    `--file=${shellQuote(file)}`,
    `--dbname=${shellQuote(libpqUrl(databaseUrl))}`,
  ].join(" ");
}

/**
 * pg_restore of such a dump, every relay node stopped: drops what the dump holds and creates it
 * again, in one transaction that stops at the first error, with objects owned by the role
 * restoring (the relay's role, so it can use them).
 */
export function pgRestoreCommand(databaseUrl: string, file: string): string {
  return [
    "pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error",
    `--dbname=${shellQuote(libpqUrl(databaseUrl))}`,
    shellQuote(file),
  ].join(" ");
}
