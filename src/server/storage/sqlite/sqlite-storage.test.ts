import { existsSync, statSync } from "node:fs";
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
    const open = await openSqliteStorage({ dataDir });

    const file = join(dataDir, sqliteFileName);
    expect(existsSync(file)).toBe(true);
    // Private, whatever the umask: the directory, the database and the WAL beside it.
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    await open.close();
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

  it("upgrades a version-2 database: old invites expire in a day, removed party devices are removed", async () => {
    const dataDir = join(root, "v2");
    await mkdir(dataDir, { recursive: true });
    const v2 = new Database(join(dataDir, sqliteFileName));
    migrate(v2, migrations.slice(0, 2));
    v2.exec(`
      INSERT INTO devices (device_id, role, auth_public_key) VALUES ('m1', 'mediator', 'k'), ('p1', 'party', 'k'), ('p2', 'party', 'k');
      INSERT INTO channels (channel_id) VALUES ('ch');
      INSERT INTO caucuses (caucus_id, channel_id, head_hash) VALUES ('c1', 'ch', 'h');
      INSERT INTO invites (invite_id, caucus_id, invite_public_key) VALUES ('i1', 'c1', 'k');
      INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq, removed) VALUES
        ('c1', 'p1', 'party', 1, 1, 1), ('c1', 'p2', 'party', 1, 1, 0);
      INSERT INTO sessions (token_hash, device_id, expires_at) VALUES ('t1', 'p1', 9e15), ('t2', 'p2', 9e15);
    `);
    v2.close();

    const before = Date.now();
    const storage = await openSqliteStorage({ dataDir });
    try {
      const invite = await storage.getInvite("i1");
      expect(invite).toMatchObject({ revoked: false, used: false });
      expect(invite!.expiresAt).toBeGreaterThanOrEqual(before + 86_400_000 - 1_000);
      expect(invite!.expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000 + 1_000);
      expect(await storage.getDevice("p1")).toMatchObject({ removed: true });
      expect(await storage.getDevice("p2")).toMatchObject({ removed: false });
      expect(await storage.getSession("t1")).toBeUndefined();
      expect(await storage.getSession("t2")).toBeDefined();
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
