import {
  chownSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rejectionCode } from "../../test-helpers.js";
import { backupDatabase } from "./backup.js";
import { openDatabase, sqliteFileName } from "./open-database.js";
import { restoreDatabase } from "./restore.js";
import { openSqliteStorage } from "./sqlite-storage.js";
import { latestVersion } from "./schema-versions.js";

/** Runs `fn` on a read-write connection to `file` (closing it removes the WAL it opened). */
function withDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const devices = (file: string) =>
  withDb(file, (db) => db.prepare("SELECT device_id FROM devices ORDER BY device_id").pluck().all());

describe("admin restore of the SQLite database", () => {
  let root: string;
  /** A backup holding one device, "d-backup". */
  let backup: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "backchannel-restore-"));
    const dataDir = join(root, "original");
    const db = openDatabase({ dataDir });
    db.prepare(
      "INSERT INTO devices (device_id, role, auth_public_key) VALUES ('d-backup', 'party', 'k')",
    ).run();
    db.close();
    backup = join(root, "backup.sqlite");
    await backupDatabase({ dataDir, file: backup });
  });

  afterEach(() => rm(root, { recursive: true, force: true }));

  it("restores into a data dir with no database yet: private, checked, and a relay opens it", async () => {
    const dataDir = join(root, "new", "data");
    const result = await restoreDatabase({ dataDir, file: backup });

    const database = join(dataDir, sqliteFileName);
    expect(result).toMatchObject({
      database,
      bytes: statSync(backup).size,
      schemaVersion: latestVersion(),
      replaced: false,
    });
    expect(statSync(database).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dataDir)).toEqual([sqliteFileName]);
    const storage = await openSqliteStorage({ dataDir });
    try {
      expect(await storage.getDevice("d-backup")).toMatchObject({ deviceId: "d-backup" });
    } finally {
      await storage.close();
    }
  });

  it("replaces a database only when forced, and never while a connection holds it", async () => {
    const dataDir = join(root, "running");
    const relay = openDatabase({ dataDir });
    relay
      .prepare("INSERT INTO devices (device_id, role, auth_public_key) VALUES ('d-later', 'party', 'k')")
      .run();
    const database = join(dataDir, sqliteFileName);

    expect(await rejectionCode(restoreDatabase({ dataDir, file: backup }))).toBe("database_exists");
    // Open and idle, as a relay between requests is: still refused, forced or not.
    expect(await rejectionCode(restoreDatabase({ dataDir, file: backup, force: true }))).toBe(
      "relay_running",
    );
    expect(relay.prepare("SELECT count(*) FROM devices").pluck().get()).toBe(1);

    relay.close();
    expect(devices(database)).toEqual(["d-later"]);
    const result = await restoreDatabase({ dataDir, file: backup, force: true });
    expect(result.replaced).toBe(true);
    expect(devices(database)).toEqual(["d-backup"]);
    expect(statSync(database).mode & 0o777).toBe(0o600);
  });

  it.runIf(process.getuid?.() === 0)("run as root, gives the database to the data dir's owner", async () => {
    const dataDir = join(root, "service");
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, 1000, 1000); // the service's own user
    await restoreDatabase({ dataDir, file: backup });
    expect(statSync(join(dataDir, sqliteFileName))).toMatchObject({ uid: 1000, gid: 1000 });
  });

  it("removes a WAL left beside a database that is gone, which SQLite would replay onto the restored file", async () => {
    const dataDir = join(root, "leftovers");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, `${sqliteFileName}-wal`), "stale frames");
    writeFileSync(join(dataDir, `${sqliteFileName}-shm`), "stale index");
    await restoreDatabase({ dataDir, file: backup });
    expect(readdirSync(dataDir)).toEqual([sqliteFileName]);
    expect(devices(join(dataDir, sqliteFileName))).toEqual(["d-backup"]);
  });

  describe("checks the file before anything changes", () => {
    let dataDir: string;
    let database: string;
    /** The data dir's database before each refusal: it must be exactly so afterwards. */
    let before: Buffer;

    beforeEach(() => {
      dataDir = join(root, "target");
      openDatabase({ dataDir }).close();
      database = join(dataDir, sqliteFileName);
      before = readFileSync(database);
    });

    /** A copy of the backup, changed by `change`. */
    function variant(name: string, change: (db: Database.Database) => void): string {
      const file = join(root, name);
      copyFileSync(backup, file);
      withDb(file, change);
      return file;
    }

    async function refused(file: string, code: string): Promise<void> {
      expect(await rejectionCode(restoreDatabase({ dataDir, file, force: true }))).toBe(code);
      expect(readdirSync(dataDir)).toEqual([sqliteFileName]);
      expect(readFileSync(database).equals(before)).toBe(true);
    }

    it("a missing file, or one that is not SQLite", async () => {
      await refused(join(root, "missing.sqlite"), "no_file");
      writeFileSync(join(root, "notes.txt"), "SQLite format 2, honestly");
      await refused(join(root, "notes.txt"), "not_a_relay_database");
    });

    it("an SQLite database that is not a relay's", async () => {
      const file = join(root, "other.sqlite");
      const db = new Database(file);
      db.exec("CREATE TABLE notes (x)");
      db.close();
      await refused(file, "not_a_relay_database");
    });

    it("a database written by a newer relay", async () => {
      const newer = variant("newer.sqlite", (db) =>
        db.prepare("INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')").run(),
      );
      await refused(newer, "schema_too_new");
    });

    it("a damaged database", async () => {
      const file = join(root, "damaged.sqlite");
      copyFileSync(backup, file);
      const bytes = readFileSync(file);
      // Pages 2 to 5 (page 1 is the header and the schema) overwritten with noise.
      bytes.fill(0x5a, 4096, 5 * 4096);
      writeFileSync(file, bytes);
      await refused(file, "database_damaged");
    });

    it("a live database, with part of its content in the WAL beside it", async () => {
      const live = openDatabase({ dataDir: join(root, "live") });
      live.prepare("INSERT INTO devices (device_id, role, auth_public_key) VALUES ('d', 'party', 'k')").run();
      try {
        await refused(join(root, "live", sqliteFileName), "not_a_backup");
      } finally {
        live.close();
      }
    });

    it("the data dir's own database", async () => {
      await refused(database, "same_file");
    });
  });
});
