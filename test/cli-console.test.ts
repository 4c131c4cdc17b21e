import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cli, consoleInChild, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * `backchannel console` serves the console from this installation on this machine, pointed at a
 * relay that (by default) serves none: the code holding a browser's keys never comes from the relay.
 */
describe("backchannel console", () => {
  let dir: string;
  let relay: { url: string; process: ChildProcess };
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-console-"));
    relay = await serveInChild(join(dir, "relay"));
    children.push(relay.process);
  });
  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("`serve` serves no console: / is the API's not_found", async () => {
    const res = await fetch(`${relay.url}/`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", message: "not found" });
  });

  test("serves the built console on 127.0.0.1 under a CSP that admits the relay, names the relay, proxies nothing", async () => {
    const { url, process: child } = await consoleInChild(relay.url);
    children.push(child);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toBe(relay.url);

    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    const ws = relay.url.replace(/^http/, "ws");
    expect(page.headers.get("content-security-policy")).toContain(`connect-src 'self' ${relay.url} ${ws};`);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self';");

    expect(await (await fetch(`${url}/config.json`)).json()).toEqual({ relayUrl: relay.url });
    const api = await fetch(`${url}/v1/channels`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: "not_found", message: "not found" });

    child.kill("SIGINT");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  test("refuses a relay URL that is not http(s), and says why", async () => {
    const r = await cli(undefined, ["console", "--server", "ftp://relay.example", "--port", "0", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: "console_unavailable" });
    expect(r.stdout).toContain("http(s)");
  });
});
