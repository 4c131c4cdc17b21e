/**
 * Test-only: the backends every storage suite runs against (storage.test.ts,
 * registration-tokens.test.ts), as kysely's DIALECTS.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPostgresStorage } from "./postgres/postgres-storage.js";
import { freshSchema, testDatabaseUrl } from "./postgres/test-helpers.js";
import { openSqliteStorage } from "./sqlite/sqlite-storage.js";
import type { Storage } from "./storage.js";

/**
 * One suite, every backend (as kysely's DIALECTS): a PostgreSQL backend joins by adding an entry
 * whose `create` gives a fresh database and whose `open` can be called again to reopen it.
 */
export interface Backend {
  name: string;
  create(): Promise<{ open(): Promise<Storage>; cleanup(): Promise<void> }>;
}

const sqlite: Backend = {
  name: "sqlite",
  async create() {
    const dataDir = await mkdtemp(join(tmpdir(), "backchannel-storage-"));
    return {
      open: () => openSqliteStorage({ dataDir }),
      cleanup: () => rm(dataDir, { recursive: true, force: true }),
    };
  },
};

/**
 * A schema of its own in the test database (BACKCHANNEL_TEST_DATABASE_URL); the tests fail, not
 * skip, when PostgreSQL is down. Small pools: several test files run at once on two cores.
 */
const postgres: Backend = {
  name: "postgres",
  async create() {
    const { schema, drop } = await freshSchema();
    return {
      open: () => openPostgresStorage({ databaseUrl: testDatabaseUrl, schema, poolSize: 2 }),
      cleanup: drop,
    };
  },
};

export const backends: Backend[] = [sqlite, postgres];
