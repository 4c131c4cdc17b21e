import { DatabaseError, Pool, TypeOverrides, type PoolClient } from "pg";
import type { CommitObserver } from "../commit-observer.js";

export interface PostgresStorageOptions {
  /**
   * postgres:// or postgresql:// URL: host, port, database, user, password, and libpq-style
   * parameters such as `sslmode` or `options=-c search_path=…`.
   */
  databaseUrl: string;
  /** Keep the relay's tables in this schema (created if missing) rather than the URL's search_path. */
  schema?: string;
  /** Connections this relay node keeps to the database; default 10. */
  poolSize?: number;
  /** Told about each group commit (metrics). */
  onCommit?: CommitObserver;
}

export const isPostgresUrl = (url: string): boolean => /^postgres(?:ql)?:\/\//i.test(url);

/** The URL without any password (in the user part or a parameter): safe for logs and errors. */
export function redactedUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.password = "";
  for (const key of [...url.searchParams.keys()])
    if (key.toLowerCase().includes("password")) url.searchParams.delete(key);
  return url.toString();
}

/** Where the URL points, as an error message names it: host:port, database and user. */
export function describeTarget(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const host = url.searchParams.get("host") ?? (url.hostname || "localhost");
  const port = url.port || url.searchParams.get("port") || "5432";
  const user = decodeURIComponent(url.username) || url.searchParams.get("user");
  const database = decodeURIComponent(url.pathname.slice(1)) || url.searchParams.get("dbname") || user;
  return `${host}:${port} (database "${database ?? "?"}"${user ? `, user "${user}"` : ""})`;
}

/**
 * Seqs, epochs and times are bigint columns; pg hands int8 over as a string (it may exceed a JS
 * number). Ours never come near 2^53, and a value that did would be refused here rather than
 * silently rounded. Set on our pool only, not pg's global parsers.
 */
const types = new TypeOverrides();
types.setTypeParser(20 /* int8 */, (text: string) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`bigint ${text} is beyond JavaScript's safe integers`);
  return n;
});

/** A schema name we can put in a connection option unquoted. */
const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

export function createPool(options: PostgresStorageOptions): Pool {
  if (!isPostgresUrl(options.databaseUrl))
    throw new Error("the database URL must start with postgres:// or postgresql://");
  const url = new URL(options.databaseUrl);
  if (options.schema !== undefined) {
    if (!schemaName.test(options.schema))
      throw new Error(`schema "${options.schema}": use lowercase letters, digits and _`);
    // pg lets the URL's parameters override the config, so the search path goes into the URL.
    const given = url.searchParams.get("options");
    url.searchParams.set("options", `${given ? `${given} ` : ""}-c search_path=${options.schema}`);
  }
  const pool = new Pool({
    connectionString: url.toString(),
    max: options.poolSize ?? 10,
    types,
    application_name: "backchannel-relay",
    // An unreachable host fails the start within seconds instead of the OS's TCP timeout.
    connectionTimeoutMillis: 10_000,
  });
  // A connection that dies while idle in the pool (a database restart) is dropped by the pool and
  // replaced on the next query; unhandled, its error would end the process.
  pool.on("error", () => undefined);
  return pool;
}

/**
 * The first connection of a storage: if it fails, say where we tried to connect (never the
 * password) and why, instead of a bare ECONNREFUSED.
 */
export async function firstConnection(pool: Pool, databaseUrl: string): Promise<PoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const where = describeTarget(databaseUrl);
    throw new Error(
      error instanceof DatabaseError
        ? `PostgreSQL at ${where} refused the connection: ${reason}`
        : `PostgreSQL not reachable at ${where}: ${reason}`,
      { cause: error },
    );
  }
}
