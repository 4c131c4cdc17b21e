import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cli, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * Why a CLI command starts fast (issue 12, item 9), asserted on its causes, never on a time: a
 * client command loads no relay code, and a command reuses the login token an earlier one kept in
 * the keystore instead of logging in again (bench/cli-startup.ts measures the times).
 */
describe("CLI start-up", () => {
  let dir: string;
  let relay: ChildProcess;
  let proxy: Server;
  let url: string;
  /** Requests that reached the relay through the proxy, by "METHOD /path". */
  const requests: string[] = [];
  const logins = () => requests.filter((r) => r === "POST /v1/auth/session").length;
  const home = (who: string) => join(dir, who);

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-startup-"));
    const served = await serveInChild(join(dir, "relay"));
    relay = served.process;
    // A counting pass-through in front of the real relay: the devices know only its URL.
    const upstream = new URL(served.url);
    proxy = createServer((req, res) => {
      requests.push(`${req.method} ${(req.url ?? "").split("?")[0]}`);
      const up = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    await cliJson(home("m"), ["mediator", "init", "--server", url, "--name", "M"]);
    await cliJson(home("m"), ["channel", "create", "--topic", "T", "--party", "A", "--party", "B"]);
  });
  afterAll(async () => {
    relay?.kill("SIGKILL");
    await new Promise((r) => proxy?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test("whoami, inbox and send load no relay code (fastify, SQLite, PostgreSQL, Redis, NATS)", async () => {
    const { code } = await cliJson<{ code: string }>(home("m"), ["channel", "invite", "A", "--no-confirm"]);
    await cliJson(home("a"), ["join", code]);
    await cliJson(home("m"), ["inbox"]); // admits A's handler (--no-confirm)
    const loaded = async (who: string, args: string[]) => {
      const log = join(dir, `imports-${args[0]}.log`);
      const hook = resolve(import.meta.dirname, "helpers", "record-imports.mjs");
      const r = await cli(home(who), [...args, "--json"], {
        NODE_OPTIONS: `--import=${hook}`,
        BACKCHANNEL_IMPORT_LOG: log,
      });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return readFileSync(log, "utf8").split("\n").filter(Boolean);
    };
    const relayCode =
      /\/node_modules\/(fastify|@fastify|better-sqlite3|pg|ioredis|@nats-io|pino|prom-client)\/|\/dist\/server\//;
    for (const [who, args] of [
      ["m", ["whoami"]],
      ["m", ["inbox"]],
      ["a", ["send", "--text", "hello"]],
    ] as const) {
      const urls = await loaded(who, [...args]);
      expect(urls.some((u) => u.includes("/dist/sdk/"))).toBe(true); // the recorder saw the command's graph
      expect(urls.filter((u) => relayCode.test(u))).toEqual([]);
    }
  }, 60_000);

  test("a command reuses the login token the last one kept in the keystore; a refused one is replaced transparently", async () => {
    await cliJson(home("m"), ["inbox"]);
    const before = logins();
    await cliJson(home("m"), ["inbox"]);
    await cliJson(home("m"), ["channel", "invite", "B"]);
    await cliJson(home("m"), ["inbox"]);
    expect(logins()).toBe(before);
    expect(requests.filter((r) => r.startsWith("GET /v1/caucuses/")).length).toBeGreaterThan(0);

    // A copy of the device keeps the same token; logging out on the original revokes it on the
    // relay, so the copy's next command is refused once, logs in again, and goes on.
    cpSync(home("m"), home("m-copy"), { recursive: true });
    await cliJson(home("m"), ["logout"]);
    const afterLogout = logins();
    const inbox = await cliJson<{ caucuses: unknown[] }>(home("m-copy"), ["inbox"]);
    expect(inbox.caucuses).toHaveLength(2);
    expect(logins()).toBe(afterLogout + 1);
    // and keeps the new token for the command after it
    await cliJson(home("m-copy"), ["inbox"]);
    expect(logins()).toBe(afterLogout + 1);
  }, 60_000);
});
