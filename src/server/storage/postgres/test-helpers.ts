/**
 * Test-only: the PostgreSQL the suites run against, and a fresh schema per test so tests (and
 * test files running in parallel) never see each other's rows.
 */
import { randomBytes } from "node:crypto";
import { Client, escapeIdentifier } from "pg";
import { redactedUrl } from "./connection.js";

export const testDatabaseUrl =
  process.env.BACKCHANNEL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Runs one statement on a connection of its own; fails loudly (never skips) if the server is down. */
async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL not reachable at ${redactedUrl(testDatabaseUrl)} (${error instanceof Error ? error.message : String(error)}); ` +
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start " +
        "(or point BACKCHANNEL_TEST_DATABASE_URL at another server)",
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A schema name no other test uses. It is not created: opening a storage in it does that. */
export async function freshSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `test_${randomBytes(8).toString("hex")}`;
  // Fails here, with the message above, when PostgreSQL is down.
  await admin("SELECT 1");
  return { schema, drop: () => admin(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`) };
}

/**
 * A created schema and a URL whose connections work in it (libpq's `options`), for code that takes
 * only a URL, such as startServer.
 */
export async function schemaUrl(): Promise<{ databaseUrl: string; drop: () => Promise<void> }> {
  const { schema, drop } = await freshSchema();
  await admin(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
  const url = new URL(testDatabaseUrl);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return { databaseUrl: url.toString(), drop };
}
