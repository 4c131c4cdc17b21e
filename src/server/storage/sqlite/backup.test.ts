import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rejectionCode } from "../../test-helpers.js";
import { backupDatabase, type BackupProgress } from "./backup.js";
import { openDatabase, sqliteFileName } from "./open-database.js";
import { latestVersion } from "./schema-versions.js";

/** Rows in the filler table (a read-write connection: on close it removes the WAL it opened). */
const count = (file: string): number => {
  const db = new Database(file);
  try {
    return (db.prepare("SELECT count(*) AS n FROM filler").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("admin backup of the SQLite database", () => {
  let root: string;
  let dataDir: string;
  /** The relay's connection. */
  let live: Database.Database;
  let insert: Database.Statement;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "backchannel-backup-"));
    dataDir = join(root, "data");
    live = openDatabase({ dataDir });
    // Some hundreds of pages, so the copy takes many steps.
    live.exec("CREATE TABLE filler (x BLOB NOT NULL)");
    insert = live.prepare("INSERT INTO filler VALUES (randomblob(2000))");
    for (let i = 0; i < 300; i++) insert.run();
  });

  afterEach(async () => {
    live.close();
    await rm(root, { recursive: true, force: true });
  });

  it("copies the database as it was when it began, while the relay keeps writing between its steps", async () => {
    const progress: BackupProgress[] = [];
    const file = join(root, "backup.sqlite");
    const result = await backupDatabase({
      dataDir,
      file,
      pagesPerStep: 20,
      onProgress: (p) => {
        progress.push(p);
        insert.run(); // a write between every two steps, committed on the relay's connection
      },
    });

    // Many steps, each one after a write, and the copy never started over.
    expect(progress.length).toBeGreaterThan(10);
    const copied = progress.map((p) => p.pagesCopied);
    expect(copied).toEqual([...copied].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ pagesCopied: result.pages, totalPages: result.pages });
    // The snapshot: the 300 rows there at the start, none of those written during the copy.
    expect(count(file)).toBe(300);
    expect(count(join(dataDir, sqliteFileName))).toBe(300 + progress.length);

    expect(result).toMatchObject({ file, bytes: statSync(file).size, schemaVersion: latestVersion() });
    expect(result.bytes).toBe(result.pages * 4096);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(root).sort()).toEqual(["backup.sqlite", "data"]);
  });

  it("refuses to overwrite a file unless forced, and then replaces it whole", async () => {
    const file = join(root, "backup.sqlite");
    writeFileSync(file, "an older backup");
    expect(await rejectionCode(backupDatabase({ dataDir, file }))).toBe("file_exists");
    expect(statSync(file).size).toBe("an older backup".length);

    await backupDatabase({ dataDir, file, force: true });
    expect(count(file)).toBe(300);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a copy that fails leaves nothing behind under any name", async () => {
    const file = join(root, "backup.sqlite");
    const failing = backupDatabase({
      dataDir,
      file,
      pagesPerStep: 20,
      onProgress: () => {
        throw new Error("disk full");
      },
    });
    await expect(failing).rejects.toThrow("disk full");
    expect(readdirSync(root)).toEqual(["data"]);
  });

  it("refuses what is not a backup of a relay database", async () => {
    const file = join(root, "backup.sqlite");
    expect(await rejectionCode(backupDatabase({ dataDir: join(root, "nothing"), file }))).toBe("no_database");
    expect(await rejectionCode(backupDatabase({ dataDir, file: join(dataDir, sqliteFileName) }))).toBe(
      "same_file",
    );
    expect(await rejectionCode(backupDatabase({ dataDir, file: join(root, "missing", "b.sqlite") }))).toBe(
      "no_directory",
    );

    const other = join(root, "other");
    mkdirSync(other);
    new Database(join(other, sqliteFileName)).exec("CREATE TABLE t (x)");
    expect(await rejectionCode(backupDatabase({ dataDir: other, file }))).toBe("not_a_relay_database");
    expect(readdirSync(root).sort()).toEqual(["data", "other"]);
  });
});
