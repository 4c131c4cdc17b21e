import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "./migrate.js";
import { migrations } from "./migrations/index.js";
import { openSqliteStorage, sqliteFileName } from "./sqlite-storage.js";

describe("sqlite storage file", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "backchannel-sqlite-"));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("creates the data dir, uses WAL, and records each migration once", async () => {
    const dataDir = join(root, "nested", "data");
    await (await openSqliteStorage({ dataDir })).close();
    await (await openSqliteStorage({ dataDir })).close();

    const file = join(dataDir, sqliteFileName);
    expect(existsSync(file)).toBe(true);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all()).toEqual(
        migrations.map((m) => ({ version: m.version, name: m.name })),
      );
    } finally {
      db.close();
    }
  });

  it("upgrades a version-1 database: each existing mediator device is its own mediator's device", async () => {
    const dataDir = join(root, "v1");
    await mkdir(dataDir, { recursive: true });
    const v1 = new Database(join(dataDir, sqliteFileName));
    migrate(v1, migrations.slice(0, 1));
    const insert = v1.prepare("INSERT INTO devices (device_id, role, auth_public_key) VALUES (?, ?, 'k')");
    insert.run("m1", "mediator");
    insert.run("p1", "party");
    v1.close();

    const storage = await openSqliteStorage({ dataDir });
    try {
      expect(await storage.listMediatorDevices("m1")).toEqual(["m1"]);
      expect(await storage.listMediatorDevices("p1")).toEqual([]);
    } finally {
      await storage.close();
    }
  });

  it("refuses a database written by a newer relay", async () => {
    const dataDir = join(root, "data");
    await (await openSqliteStorage({ dataDir })).close();
    const db = new Database(join(dataDir, sqliteFileName));
    db.prepare("INSERT INTO schema_migrations (version, name) VALUES (999, 'from-the-future')").run();
    db.close();
    await expect(openSqliteStorage({ dataDir })).rejects.toThrow(/999/);
  });
});
