import { Client, escapeIdentifier } from "pg";
import { describeTarget } from "./connection.js";

/**
 * A schema of its own on a PostgreSQL server, for a run that must not meet other relays' rows
 * (`backchannel demo --nodes`): made, read whole (to look for plaintext) and dropped.
 */
async function withClient<T>(databaseUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new Error(
      `PostgreSQL not reachable at ${describeTarget(databaseUrl)}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the schema; returns a URL whose connections work in it (libpq's `options`). */
export async function createSchema(databaseUrl: string, schema: string): Promise<string> {
  await withClient(databaseUrl, (c) => c.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`));
  const url = new URL(databaseUrl);
  const given = url.searchParams.get("options");
  url.searchParams.set("options", `${given ? `${given} ` : ""}-c search_path=${schema}`);
  return url.toString();
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  await withClient(databaseUrl, (c) => c.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`));
}

/**
 * Every row of every table in the schema as JSON text, table by table. bytea columns come out as
 * `\x…` hex, so a scan for plaintext must look for a word's hex form too.
 */
export async function schemaText(databaseUrl: string, schema: string): Promise<Map<string, string>> {
  return withClient(databaseUrl, async (c) => {
    const tables = await c.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
      [schema],
    );
    const out = new Map<string, string>();
    for (const { table_name } of tables.rows) {
      const rows = await c.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM ${escapeIdentifier(schema)}.${escapeIdentifier(table_name)} t`,
      );
      out.set(table_name, rows.rows.map((r) => r.row).join("\n"));
    }
    return out;
  });
}
