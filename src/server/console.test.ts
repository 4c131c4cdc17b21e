import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { consoleContentSecurityPolicy, defaultConsoleDir } from "./console.js";
import { openSqliteStorage } from "./storage/sqlite/sqlite-storage.js";
import type { Storage } from "./storage/storage.js";
import { injectCall, mediatorWithCaucus } from "./test-helpers.js";

/** The relay serves the built web console from a directory; here a stand-in build in a temp dir. */
describe("web console serving", () => {
  let storage: Storage;
  let dir: string;
  const apps: FastifyInstance[] = [];

  beforeEach(async () => {
    storage = await openSqliteStorage({ inMemory: true });
    dir = await mkdtemp(join(tmpdir(), "backchannel-console-"));
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function build(): Promise<void> {
    await mkdir(join(dir, "assets"));
    await writeFile(
      join(dir, "index.html"),
      '<!doctype html><script type="module" src="/assets/main-abc.js">',
    );
    await writeFile(join(dir, "assets", "main-abc.js"), "console.log('console');");
    await writeFile(join(dir, ".env"), "SECRET=1");
  }

  /** The relay serving the console in `consoleDir`; `null`: the relay as started by default. */
  function app(consoleDir: string | null = dir): FastifyInstance {
    // Registration open: these tests register mediators freely (closed registration: routes/mediators.test.ts).
    const a = createApp(storage, {
      logger: false,
      registration: "open",
      ...(consoleDir === null ? {} : { consoleDir }),
    });
    apps.push(a);
    return a;
  }

  it("finds dist/web from the server module, in src/server and dist/server alike", () => {
    expect(defaultConsoleDir).toBe(join(import.meta.dirname, "..", "..", "dist", "web"));
  });

  it("serves index.html at / and hashed assets, with the console's security headers", async () => {
    await build();
    const a = app();
    const csp = consoleContentSecurityPolicy();
    const page = await a.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain("/assets/main-abc.js");
    expect(page.headers).toMatchObject({
      "content-security-policy": csp,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    });
    for (const directive of [
      "script-src 'self'",
      "connect-src 'self'",
      "object-src 'none'",
      "frame-ancestors 'none'",
    ])
      expect(csp).toContain(directive);
    expect(csp).not.toContain("unsafe-");

    const asset = await a.inject({ method: "GET", url: "/assets/main-abc.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toMatch(/javascript/);
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect(asset.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("API routes keep priority; unknown paths, dotfiles and traversal get the JSON not_found", async () => {
    await build();
    const call = injectCall(app());
    expect(await call("GET", "/healthz")).toEqual({ status: 200, body: { ok: true } });
    const notFound = { status: 404, body: { error: "not_found", message: "not found" } };
    expect(await call("GET", "/v1/nothing")).toEqual(notFound);
    expect(await call("GET", "/v1")).toEqual(notFound);
    expect(await call("POST", "/v1/nothing", {})).toEqual(notFound);
    expect(await call("GET", "/assets/missing.js")).toEqual(notFound);
    expect(await call("GET", "/.env")).toEqual(notFound);
    expect(await call("GET", "/assets/../.env")).toEqual(notFound);
    expect(await call("GET", "/assets/%2e%2e/.env")).toEqual(notFound);
    // The API still works next to the console.
    const { caucusId } = await mediatorWithCaucus(call);
    expect(caucusId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("the console's routes are not API: the OpenAPI document does not list them", async () => {
    await build();
    const { body } = await injectCall(app())("GET", "/openapi.json");
    const paths = Object.keys((body as { paths: Record<string, unknown> }).paths);
    expect(paths).toContain("/v1/mediators");
    const relayOwn = ["/healthz", "/readyz", "/openapi.json"];
    expect(paths.filter((p) => !p.startsWith("/v1/") && !relayOwn.includes(p))).toEqual([]);
  });

  it("without a build, / says how to build it and the API still works", async () => {
    const call = injectCall(app(join(dir, "missing")));
    const res = await call("GET", "/");
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: "not_found" });
    expect((res.body as { message: string }).message).toContain("npm run build");
    expect(await call("GET", "/v1/nothing")).toEqual({
      status: 404,
      body: { error: "not_found", message: "not found" },
    });
    expect((await mediatorWithCaucus(call)).caucusId).toBeTruthy();
  });

  it("by default the relay serves no console: / is the API's not_found, and the API works", async () => {
    await build();
    const call = injectCall(app(null));
    const notFound = { status: 404, body: { error: "not_found", message: "not found" } };
    expect(await call("GET", "/")).toEqual(notFound);
    expect(await call("GET", "/index.html")).toEqual(notFound);
    expect(await call("GET", "/config.json")).toEqual(notFound);
    expect(await call("GET", "/assets/main-abc.js")).toEqual(notFound);
    expect((await mediatorWithCaucus(call)).caucusId).toBeTruthy();
  });

  it("a relay-served console's settings name no relay: the page's own origin is the relay", async () => {
    await build();
    const res = await app().inject({ method: "GET", url: "/config.json" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({});
    expect(res.headers["content-security-policy"]).toBe(consoleContentSecurityPolicy());
  });
});

describe("the console's CSP", () => {
  it("lets a console talk to its own origin only, or also to the relay it was given", () => {
    expect(consoleContentSecurityPolicy()).toContain("connect-src 'self';");
    expect(consoleContentSecurityPolicy("http://127.0.0.1:7700")).toContain(
      "connect-src 'self' http://127.0.0.1:7700 ws://127.0.0.1:7700;",
    );
    expect(consoleContentSecurityPolicy("https://relay.example/some/path")).toContain(
      "connect-src 'self' https://relay.example wss://relay.example;",
    );
    expect(() => consoleContentSecurityPolicy("ftp://relay.example")).toThrow(/http/);
  });
});
