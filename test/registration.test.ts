import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server/start-server.js";
import { schemaUrl } from "../src/server/storage/postgres/test-helpers.js";
import { newDevice } from "../src/server/test-helpers.js";
import { cli, ensureCliBuilt, serveInChild, type Run } from "./helpers/cli.js";

/**
 * Closed registration as an operator and a mediator meet it (issue 10): a relay started with no
 * registration setting refuses a mediator without a token; `backchannel admin token create`,
 * run against the relay's own data dir while it serves, makes one that registers exactly as many
 * devices as it allows; on PostgreSQL, two relay nodes racing for a token's last use let one in.
 */
describe("closed registration, end to end", () => {
  const root = mkdtempSync(join(tmpdir(), "backchannel-registration-"));
  beforeAll(() => ensureCliBuilt());
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** The operator's commands on the SQLite relay in `dataDir` (BACKCHANNEL_DATABASE_URL unset). */
  const admin = (dataDir: string, args: string[]): Promise<Run> =>
    cli(undefined, ["admin", "token", ...args, "--data-dir", dataDir], { BACKCHANNEL_DATABASE_URL: "" });
  const json = <T>(r: Run): T => {
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const init = (url: string, who: string, extra: string[] = [], env: Record<string, string> = {}) =>
    cli(join(root, who), ["mediator", "init", "--server", url, "--name", who, "--json", ...extra], env);
  const refusal = (r: Run) => ({
    code: r.code,
    ...(JSON.parse(r.stdout) as { error: string; message: string }),
  });

  it("refuses a mediator without a token, registers one per use of an operator's token", async () => {
    const dataDir = join(root, "relay");
    // No registration setting at all: the default is what is tested.
    const relay = await serveInChild(dataDir, [], { BACKCHANNEL_REGISTRATION: "" });
    try {
      expect(relay.printed()).toContain("registration: mediators need a registration token");

      const closed = refusal(await init(relay.url, "m0"));
      expect(closed).toMatchObject({ code: 1, error: "registration_closed" });
      expect(closed.message).toContain("ask the relay's operator for a registration token");

      const once = json<{ token: string; tokenId: string; uses: number; state: string }>(
        await admin(dataDir, ["create", "--note", "for the first mediator", "--json"]),
      );
      expect(once).toMatchObject({ uses: 1, state: "valid" });
      expect(once.token).toMatch(/^bcr1-[A-Za-z0-9_-]{43}$/);
      expect(json<{ role: string }>(await init(relay.url, "m1", ["--token", once.token]))).toMatchObject({
        role: "mediator",
      });
      // Single use: the next holder of the same token is refused, and nothing was created for them.
      expect(refusal(await init(relay.url, "m2", ["--token", once.token]))).toMatchObject({
        code: 1,
        error: "registration_token_invalid",
      });
      expect(existsSync(join(root, "m2", "device.json"))).toBe(false);

      // Two uses, the token from the environment.
      const twice = json<{ token: string; tokenId: string }>(
        await admin(dataDir, ["create", "--uses", "2", "--json"]),
      );
      const viaEnv = await init(relay.url, "m3", [], { BACKCHANNEL_REGISTRATION_TOKEN: twice.token });
      expect(viaEnv.code, viaEnv.stdout + viaEnv.stderr).toBe(0);

      const list = await admin(dataDir, ["list", "--json"]);
      const { tokens } = json<{
        tokens: { tokenId: string; used: number; uses: number; state: string; note: string | null }[];
      }>(list);
      expect(tokens).toEqual([
        expect.objectContaining({
          tokenId: once.tokenId,
          used: 1,
          uses: 1,
          state: "used up",
          note: "for the first mediator",
        }),
        expect.objectContaining({ tokenId: twice.tokenId, used: 1, uses: 2, state: "valid", note: null }),
      ]);
      expect(list.stdout).not.toContain(once.token);
      expect(list.stdout).not.toContain(twice.token);
      expect((await admin(dataDir, ["list"])).stdout).toMatch(
        new RegExp(`${once.tokenId}\\s+used up\\s+1/1`),
      );

      // Revoked: its remaining use is gone.
      expect((await admin(dataDir, ["revoke", twice.tokenId])).code).toBe(0);
      expect(refusal(await init(relay.url, "m4", ["--token", twice.token]))).toMatchObject({
        error: "registration_token_invalid",
      });
      const unknown = await admin(dataDir, ["revoke", "0123456789ab"]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("[not_found]");
    } finally {
      relay.process.kill();
    }
    // A data dir that holds no relay is refused, not created.
    const typo = await admin(join(root, "no-relay-here"), ["create"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("[no_database]");
  });

  it("says so when the operator opens registration", async () => {
    const relay = await serveInChild(join(root, "open"), ["--registration", "open"]);
    try {
      expect(relay.printed()).toContain("WARNING: registration is open");
      expect(relay.printed()).not.toContain("admin token create");
      expect((await init(relay.url, "open-m")).code).toBe(0);
    } finally {
      relay.process.kill();
    }
  });

  it("on PostgreSQL, gives a token's last use to one of two nodes' racing registrations", async () => {
    const db = await schemaUrl();
    const nodes: RunningServer[] = [];
    try {
      for (let i = 0; i < 2; i++)
        nodes.push(
          await startServer({
            port: 0,
            dataDir: join(root, "unused"),
            databaseUrl: db.databaseUrl,
            logger: false,
          }),
        );
      const made = await cli(undefined, ["admin", "token", "create", "--json"], {
        BACKCHANNEL_DATABASE_URL: db.databaseUrl,
      });
      const { token } = json<{ token: string }>(made);
      const attempts = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const d = newDevice();
          const res = await fetch(`${nodes[i % 2]!.url}/v1/mediators`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              deviceId: d.deviceId,
              authPublicKey: d.publicKey,
              registrationToken: token,
            }),
          });
          return res.status === 201 ? "registered" : ((await res.json()) as { error: string }).error;
        }),
      );
      expect(attempts.filter((a) => a === "registered")).toHaveLength(1);
      expect(attempts.filter((a) => a === "registration_token_invalid")).toHaveLength(5);
    } finally {
      for (const n of nodes) await n.close();
      await db.drop();
    }
  });
});
