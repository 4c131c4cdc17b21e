import { request } from "node:http";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { see } from "./console-helpers.js";
import { consoleDir, launchBrowser, openContext, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * How the console reaches the browser (issue 11, item 11): compressed (the build's .br and .gz
 * files, chosen by Accept-Encoding, with Vary), no source maps, content-hashed assets cached for
 * good, and a first screen whose JavaScript is at most 120 KB gzipped: the sdk (MLS and the rest
 * of the crypto) loads only once there is a device.
 */
const INITIAL_JS_LIMIT = 120 * 1024;

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET whose body is left as sent (fetch would decode it). */
function get(url: string, encoding?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: encoding ? { "accept-encoding": encoding } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the console is delivered small, compressed and without its source", () => {
  let local: ConsoleServer;
  let relayServed: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    [local, relayServed, browser] = await Promise.all([
      startConsoleServer(),
      startConsoleServer({ servedByRelay: true }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await local?.close();
    await relayServed?.close();
  });

  test("the first screen of a new browser loads at most 120 KB of JavaScript, gzipped", async () => {
    const session = await openContext(browser);
    const scripts = new Set<string>();
    session.page.on("request", (r) => {
      if (r.resourceType() === "script") scripts.add(r.url());
    });
    await session.page.goto(local.url);
    await see(session.page.getByRole("button", { name: "Create mediator device" }));
    await session.page.waitForLoadState("networkidle");
    let gzipped = 0;
    for (const url of scripts) {
      const res = await get(url, "gzip");
      expect(res.headers["content-encoding"], url).toBe("gzip");
      gzipped += res.body.length;
    }
    console.log(`first screen: ${scripts.size} scripts, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeLessThanOrEqual(INITIAL_JS_LIMIT);
    // The crypto is not among them: it comes when a device is made or opened.
    expect([...scripts].some((u) => /\/assets\/(sdk|device-sdk)-/.test(u))).toBe(false);
    expect(session.errors).toEqual([]);
    await session.close();
  });

  test("both servers send brotli or gzip as asked, with Vary, and hashed assets cached for good", async () => {
    for (const server of [local, relayServed]) {
      const page = await get(`${server.url}/`, "gzip, deflate, br");
      expect(page.status).toBe(200);
      expect(page.headers["content-encoding"]).toBe("br");
      expect(page.headers["vary"]).toMatch(/accept-encoding/i);
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
      const html = (await get(`${server.url}/`)).body.toString();
      expect(html).toContain('<div id="root">');
      const main = /src="(\/assets\/main-[^"]+\.js)"/.exec(html)![1]!;

      const gz = await get(`${server.url}${main}`, "gzip");
      expect(gz.headers["content-encoding"]).toBe("gzip");
      expect(gz.headers["content-type"]).toMatch(/javascript/);
      expect(gz.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      const identity = await get(`${server.url}${main}`);
      expect(identity.headers["content-encoding"]).toBeUndefined();
      expect(gunzipSync(gz.body).equals(identity.body)).toBe(true);
      expect(gz.body.length).toBeLessThan(identity.body.length / 2);
    }
  });

  test("no source map is built or served", async () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : [e.name],
      );
    const built = files(consoleDir);
    expect(built.filter((f) => f.endsWith(".map"))).toEqual([]);
    const js = built.filter((f) => f.endsWith(".js"));
    for (const server of [local, relayServed]) {
      for (const f of js) {
        const res = await get(`${server.url}/assets/${f}`);
        if (res.status !== 200) continue; // the pages' own scripts sit at the top
        expect(res.body.toString(), f).not.toMatch(/sourceMappingURL/);
        expect((await get(`${server.url}/assets/${f}.map`)).status).toBe(404);
      }
    }
  });
});
