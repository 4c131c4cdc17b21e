import { Client } from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, ensureCliBuilt } from "./helpers/cli.js";
import { testDatabaseUrl } from "../src/server/storage/postgres/test-helpers.js";

interface DemoJson {
  ok: boolean;
  serverUrls: string[];
  storage: string;
  checks: { name: string; ok: boolean }[];
}

/** `backchannel demo`, as a new user runs it: one relay on SQLite, or several nodes (issue 9). */
describe("backchannel demo", () => {
  beforeAll(() => ensureCliBuilt());

  it("plays the acceptance story on one relay, push included", async () => {
    const r = await cli(undefined, ["demo", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as DemoJson;
    expect(result.ok).toBe(true);
    expect(result.serverUrls).toHaveLength(1);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.map((c) => c.name)).toContain("B's device heard of the conveyance by push");
  });

  it("--nodes 3 plays it across three relay nodes on PostgreSQL and NATS, and leaves no schema behind", async () => {
    const r = await cli(undefined, ["demo", "--nodes", "3", "--database-url", testDatabaseUrl, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as DemoJson;
    expect(result.ok).toBe(true);
    expect(new Set(result.serverUrls).size).toBe(3);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "B's device heard of the conveyance by push, across relay nodes",
        "the relays' database and log hold no plaintext",
      ]),
    );
    const schema = /PostgreSQL schema (\w+)/.exec(result.storage)?.[1];
    expect(schema).toMatch(/^backchannel_demo_/);
    const client = new Client({ connectionString: testDatabaseUrl });
    await client.connect();
    try {
      const left = await client.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [
        schema,
      ]);
      expect(left.rowCount).toBe(0);
    } finally {
      await client.end();
    }
  });

  it("says which NATS it could not reach, and exits non-zero", async () => {
    const r = await cli(undefined, [
      "demo",
      "--nodes",
      "2",
      "--database-url",
      testDatabaseUrl,
      "--nats-url",
      "nats://127.0.0.1:1",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("nats://127.0.0.1:1");
    expect(r.stderr).not.toMatch(/\n\s+at /); // a sentence, not a stack
  });

  it.each(["0", "17", "two", "1.5"])("refuses --nodes %s with the range it takes", async (n) => {
    const r = await cli(undefined, ["demo", "--nodes", n]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a whole number from 1 to 16");
  });
});
