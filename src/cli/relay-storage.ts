import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Storage } from "../server/storage/storage.js";
import { CliError } from "./context.js";

/**
 * Runs `body` on the relay's own storage, as `serve` would open it: PostgreSQL when
 * BACKCHANNEL_DATABASE_URL is set (then every node sees the change at once), else the SQLite
 * database in `dataDir`, which a running relay may hold open meanwhile (WAL lets both write). A
 * data dir with no database is refused rather than created: a mistyped --data-dir would
 * otherwise make a relay database nobody serves. The server modules load only when this runs.
 */
export async function withRelayStorage<T>(
  dataDir: string | undefined,
  body: (storage: Storage) => Promise<T>,
): Promise<T> {
  const [{ databaseUrlFromEnv }, { defaultDataDir }, { openStorage }, { sqliteFileName }] = await Promise.all(
    [
      import("../server/main.js"),
      import("../server/start-server.js"),
      import("../server/storage/open-storage.js"),
      import("../server/storage/sqlite/open-database.js"),
    ],
  );
  const databaseUrl = databaseUrlFromEnv(process.env);
  const dir = dataDir ?? defaultDataDir;
  if (databaseUrl === undefined && !existsSync(join(dir, sqliteFileName)))
    throw new CliError(
      "no_database",
      `no relay database in ${dir}: pass the relay's --data-dir (or BACKCHANNEL_DATA_DIR), or start the relay there once`,
    );
  const storage = await openStorage({ dataDir: dir, databaseUrl });
  try {
    return await body(storage);
  } finally {
    await storage.close();
  }
}
