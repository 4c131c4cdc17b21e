import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schemaUrl } from "../src/server/storage/postgres/test-helpers.js";
import { openSqliteStorage } from "../src/server/storage/sqlite/sqlite-storage.js";
import { cli, ensureCliBuilt } from "./helpers/cli.js";
import { startNetwork } from "./helpers/network.js";

/**
 * `backchannel admin` as an operator meets it: what it prints for people, and on PostgreSQL the
 * pg_dump and pg_restore commands it prints instead, run exactly as printed. (The SQLite backup
 * and restore story with real devices is test/backup-restore.test.ts.)
 */
describe("backchannel admin", () => {
  const root = mkdtempSync(join(tmpdir(), "backchannel-admin-"));
  beforeAll(() => ensureCliBuilt());
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const sqlite = { BACKCHANNEL_DATABASE_URL: "" };

  it("backs up and restores for people, and says why it refuses", async () => {
    const dataDir = join(root, "data");
    await (await openSqliteStorage({ dataDir })).close();
    const file = join(root, "backup.sqlite");

    const backup = await cli(undefined, ["admin", "backup", file, "--data-dir", dataDir], sqlite);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain(`Backed up the relay database in ${dataDir} to ${file}`);
    // A database this small takes no time: no progress lines.
    expect(backup.stderr).toBe("");

    const again = await cli(undefined, ["admin", "backup", file, "--data-dir", dataDir], sqlite);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`[file_exists] ${file} exists (--force replaces it)`);

    const nothing = await cli(undefined, ["admin", "backup", file, "--data-dir", join(root, "none")], sqlite);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("[no_database]");

    const restore = await cli(undefined, ["admin", "restore", file, "--data-dir", join(root, "new")], sqlite);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`integrity checked`);
  });

  describe("on PostgreSQL", () => {
    let db: Awaited<ReturnType<typeof schemaUrl>>;
    /** The relay's URL with a password in it (the test server trusts local connections anyway). */
    let databaseUrl: string;
    let events: number;

    const countEvents = async (): Promise<number> => {
      const client = new Client({ connectionString: db.databaseUrl });
      await client.connect();
      try {
        return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM events")).rows[0]!.n);
      } finally {
        await client.end();
      }
    };

    beforeAll(async () => {
      db = await schemaUrl();
      const net = await startNetwork({ databaseUrl: db.databaseUrl });
      await net.handlers.A![0]!.send({ text: "kept by pg_dump" });
      await net.close();
      events = await countEvents();
      expect(events).toBeGreaterThan(0);
      const url = new URL(db.databaseUrl);
      url.password = "never-printed";
      databaseUrl = url.toString();
    });
    afterAll(() => db?.drop());

    /** The command `admin <what>` prints with --json; it exits 1, as nothing was backed up or restored. */
    async function printed(what: "backup" | "restore", file: string): Promise<string> {
      const run = await cli(undefined, ["admin", what, file, "--json"], {
        BACKCHANNEL_DATABASE_URL: databaseUrl,
      });
      expect(run.code).toBe(1);
      expect(run.stdout + run.stderr).not.toContain("never-printed");
      const doc = JSON.parse(run.stdout) as { tool: string; command: string; error: string };
      const tool = what === "backup" ? "pg_dump" : "pg_restore";
      expect(doc).toMatchObject({ tool, error: `use_${tool}` });
      expect(doc.command.startsWith(`${tool} `)).toBe(true);
      return doc.command;
    }

    it("prints the pg_dump and pg_restore commands, which work as printed", async () => {
      const file = join(root, "relay.dump");
      const human = await cli(undefined, ["admin", "backup", file], {
        BACKCHANNEL_DATABASE_URL: databaseUrl,
      });
      expect(human.stdout).toContain("pg_dump --format=custom");
      expect(human.stderr).toContain("[use_pg_dump]");

      execFileSync("sh", ["-c", await printed("backup", file)]);
      await db.drop(); // the relay's schema is lost
      execFileSync("sh", ["-c", await printed("restore", file)]);
      expect(await countEvents()).toBe(events);
    });
  });
});
