import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Party } from "../src/sdk/index.js";
import { serveOptionsFromEnv } from "../src/server/main.js";
import { schemaUrl } from "../src/server/storage/postgres/test-helpers.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { cli, ensureCliBuilt, serveInChild } from "./helpers/cli.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * The relay on PostgreSQL, end to end: real sdk devices against a relay whose storage is a schema
 * of its own in the test database, and `backchannel serve` configured by BACKCHANNEL_DATABASE_URL.
 */
describe("a relay on PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof schemaUrl>>;
  let net: TestNetwork;
  let a: Party;
  let b: Party;

  beforeAll(async () => {
    db = await schemaUrl();
    net = await startNetwork({ parties: ["A", "B"], databaseUrl: db.databaseUrl });
    a = net.handlers.A![0]!;
    b = net.handlers.B![0]!;
  });
  afterAll(async () => {
    await net?.close();
    await db?.drop();
  });

  /** Rows of the relay's events table, read from PostgreSQL itself. */
  async function storedEvents(caucusId: string): Promise<number> {
    const client = new Client({ connectionString: db.databaseUrl });
    await client.connect();
    try {
      const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE caucus_id = $1", [
        caucusId,
      ]);
      return Number(r.rows[0]!.n);
    } finally {
      await client.end();
    }
  }

  test("parties join by invite; a signal is conveyed; receipts land; every transcript verifies", async () => {
    const signal = await a.send({
      text: "we will hold the line at the river",
      signalKind: "notification_of_intent",
      disclosure: "substance",
      attribution: "party",
    });
    await net.mediator.sync();
    const { conveyances } = await net.mediator.convey({
      from: net.caucus.A!,
      eventId: signal.eventId,
      mode: "substance",
      text: "A intends to hold its current position",
    });
    expect(conveyances).toHaveLength(1);

    await b.sync();
    expect(b.entries(b.caucusId).filter((e) => e.payload?.body.type === "conveyance")).toEqual([
      expect.objectContaining({
        payload: expect.objectContaining({
          body: expect.objectContaining({ text: "A intends to hold its current position", fromParty: "A" }),
        }),
      }),
    ]);
    await a.sync();
    expect(a.entries(a.caucusId).filter((e) => e.payload?.body.type === "receipt")).toHaveLength(1);

    for (const device of [net.mediator, a, b]) {
      const reports = await device.verify();
      expect(reports.length).toBeGreaterThan(0);
      for (const r of reports) expect(r, JSON.stringify(r.problem)).toMatchObject({ ok: true });
    }
    // It all went to PostgreSQL: A's transcript up to its last entry is the rows there (from
    // before A joined, too), and there is no SQLite file.
    expect(await storedEvents(net.caucus.A!)).toBe(a.entries(a.caucusId).at(-1)!.seq);
    expect(existsSync(join(net.dataDir, sqliteFileName))).toBe(false);
  });
});

describe("backchannel serve with BACKCHANNEL_DATABASE_URL", () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-pg-serve-"));
  });
  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("says it stores in PostgreSQL, and never prints the password", async () => {
    const db = await schemaUrl();
    try {
      const url = new URL(db.databaseUrl);
      url.password = "hunter2-secret"; // the test server trusts local connections: never asked for
      const started = await serveInChild(join(dir, "relay"), [], {
        BACKCHANNEL_DATABASE_URL: url.toString(),
      });
      child = started.process;
      expect(started.printed()).toMatch(
        /listening on http:\/\/\S+ \(storage: PostgreSQL at postgres:\/\/postgres@/,
      );
      expect(started.printed()).not.toContain("hunter2");
      expect((await fetch(`${started.url}/healthz`)).status).toBe(200);
    } finally {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await db.drop();
    }
  });

  test("an unreachable server: one clear line naming host and port, no password, no stack", async () => {
    const r = await cli(undefined, ["serve", "--port", "0", "--data-dir", join(dir, "unused")], {
      BACKCHANNEL_DATABASE_URL: "postgres://relay:hunter2-secret@127.0.0.1:1/backchannel",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /PostgreSQL not reachable at 127\.0\.0\.1:1 \(database "backchannel", user "relay"\)/,
    );
    expect(r.stderr).not.toContain("hunter2");
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(dir, "unused"))).toBe(false);
  });

  test("a URL that is not PostgreSQL's is refused, without echoing it; an empty one means SQLite", () => {
    for (const bad of ["mysql://root:hunter2-secret@localhost/db", "hunter2-secret"]) {
      expect(() => serveOptionsFromEnv({ BACKCHANNEL_DATABASE_URL: bad })).toThrow(
        /^BACKCHANNEL_DATABASE_URL must be a PostgreSQL URL/,
      );
      expect(() => serveOptionsFromEnv({ BACKCHANNEL_DATABASE_URL: bad })).not.toThrow(/hunter2/);
    }
    expect(serveOptionsFromEnv({ BACKCHANNEL_DATABASE_URL: "" })).not.toHaveProperty("databaseUrl");
    expect(serveOptionsFromEnv({ BACKCHANNEL_DATABASE_URL: "postgresql://db/relay" })).toMatchObject({
      databaseUrl: "postgresql://db/relay",
    });
  });
});
