import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createApp } from "./app.js";
import type { AppOptions } from "./config.js";
import { startServer } from "./start-server.js";
import { openSqliteStorage } from "./storage/sqlite/sqlite-storage.js";
import type { Storage } from "./storage/storage.js";

/**
 * The console calls the relay from another origin (`backchannel console`), so the API answers
 * CORS — and only the API: a relay-served console's files and unknown paths carry no CORS headers,
 * and nothing ever allows credentials (the API takes bearer tokens; the relay sets no cookies).
 */
const consoleOrigin = "http://127.0.0.1:7701";
const events = "/v1/caucuses/0190a0e0-0000-7000-8000-000000000000/events";

const preflight = (url: string, origin = consoleOrigin): InjectOptions => ({
  method: "OPTIONS",
  url,
  headers: {
    origin,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
  },
});

describe("CORS on the relay's API", () => {
  let storage: Storage;
  let dir: string;
  const apps: FastifyInstance[] = [];

  beforeEach(async () => {
    storage = await openSqliteStorage({ inMemory: true });
    dir = await mkdtemp(join(tmpdir(), "backchannel-cors-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), "<!doctype html>");
    await writeFile(join(dir, "assets", "main-abc.js"), "");
  });
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  function app(options: AppOptions = {}): FastifyInstance {
    const a = createApp(storage, { logger: false, consoleDir: dir, ...options });
    apps.push(a);
    return a;
  }

  it("answers a preflight for an authenticated POST from another origin, without credentials", async () => {
    const res = await app().inject(preflight(events));
    expect(res.statusCode).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(String(res.headers["access-control-allow-methods"]).split(/,\s*/)).toEqual(
      expect.arrayContaining(["GET", "POST", "PUT", "DELETE"]),
    );
    expect(String(res.headers["access-control-allow-headers"]).split(/,\s*/)).toEqual(
      expect.arrayContaining(["authorization", "content-type"]),
    );
    expect(res.headers).not.toHaveProperty("access-control-allow-credentials");
  });

  it("puts the header on API answers, refusals included, so the console can read them", async () => {
    const a = app();
    const ok = await a.inject({ method: "GET", url: "/openapi.json", headers: { origin: consoleOrigin } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers["access-control-allow-origin"]).toBe("*");
    const refused = await a.inject({
      method: "POST",
      url: events,
      headers: { origin: consoleOrigin, authorization: "Bearer nope", "content-type": "application/json" },
      payload: "{}",
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ error: "unauthenticated" });
    expect(refused.headers["access-control-allow-origin"]).toBe("*");
    expect(refused.headers).not.toHaveProperty("access-control-allow-credentials");
  });

  it("sends no CORS headers on the console's files, and refuses preflights off the API", async () => {
    const a = app();
    for (const url of ["/", "/config.json", "/assets/main-abc.js"]) {
      const res = await a.inject({ method: "GET", url, headers: { origin: consoleOrigin } });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers, url).not.toHaveProperty("access-control-allow-origin");
    }
    for (const url of ["/", "/assets/main-abc.js", "/elsewhere"]) {
      const res = await a.inject(preflight(url));
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toEqual({ error: "not_found", message: "not found" });
      expect(res.headers, url).not.toHaveProperty("access-control-allow-origin");
      expect(res.headers, url).not.toHaveProperty("access-control-allow-methods");
    }
  });

  it("with an allow-list, answers the origins on it and no other", async () => {
    const a = app({ allowOrigins: [consoleOrigin] });
    const allowed = await a.inject(preflight(events));
    expect(allowed.headers["access-control-allow-origin"]).toBe(consoleOrigin);
    expect(allowed.headers.vary).toMatch(/origin/i);
    const other = await a.inject(preflight(events, "https://elsewhere.example"));
    expect(other.headers).not.toHaveProperty("access-control-allow-origin");
  });

  it("accepts the push socket from another origin (browsers send Origin on WebSockets)", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "backchannel-cors-ws-"));
    const server = await startServer({ port: 0, dataDir, logger: false });
    try {
      const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/ws`, { origin: consoleOrigin });
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      ws.terminate();
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
