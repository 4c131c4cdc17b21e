import type { Browser, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  createChannel,
  createMediator,
  inviteHandler,
  RelayDatabase,
  see,
  seeText,
  unexpectedErrors,
} from "./console-helpers.js";
import { launchBrowser, openContext, screenshot, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * Where the console's code comes from (docs/design.md, gap 1): by default from this machine
 * (`backchannel console`), talking to a relay that serves no console, cross-origin; a relay may
 * serve it only when its operator opts in, and that console then says, on every screen, that
 * whoever runs the relay could read what is done in it.
 */
const warning = "Whoever runs this relay could read what is done in it.";

describe("the console runs from code the relay does not serve", () => {
  let server: ConsoleServer;
  let relayServed: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, relayServed, browser] = await Promise.all([
      startConsoleServer(),
      startConsoleServer({ servedByRelay: true }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await relayServed?.close();
  });

  test("a relay started without --console answers / with the API's not_found; the API works", async () => {
    for (const path of ["/", "/index.html", "/config.json", "/sdk-probe.html"]) {
      const res = await fetch(`${server.relayUrl}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ error: "not_found", message: "not found" });
    }
    expect(await (await fetch(`${server.relayUrl}/healthz`)).json()).toEqual({ ok: true });
  });

  test("over HTTP, the relay answers the console's preflight, never with credentials, and only on the API", async () => {
    const origin = new URL(server.url).origin;
    const preflight = await fetch(`${server.relayUrl}/v1/channels`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();
    const page = await fetch(`${relayServed.relayUrl}/`, { headers: { origin } });
    expect(page.status).toBe(200);
    expect(page.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("the local console is another origin than the relay, and everything it asks goes to the relay", async () => {
    const m = await openContext(browser);
    const relayOrigin = new URL(server.relayUrl).origin;
    const consoleOrigin = new URL(server.url).origin;
    expect(consoleOrigin).not.toBe(relayOrigin);
    const asked: string[] = [];
    m.page.on("request", (r: Request) => asked.push(r.url()));

    const res = await m.page.goto(server.url);
    expect(res?.headers()["content-security-policy"]).toContain(
      `connect-src 'self' ${relayOrigin} ${relayOrigin.replace(/^http/, "ws")};`,
    );
    await seeText(m.page.getByRole("main"), `Relay: ${relayOrigin}`);
    await createMediator(m.page, server.url);
    await createChannel(m.page, "no new strikes", ["A", "B"]);
    await seeText(m.page.getByRole("status"), "Live");

    const api = asked.filter((u) => new URL(u).pathname.startsWith("/v1/"));
    expect(api.length).toBeGreaterThan(0);
    expect(api.filter((u) => new URL(u).origin !== relayOrigin)).toEqual([]);
    expect(await m.page.getByLabel("Served by the relay").count()).toBe(0);
    expect(await m.page.getByText(warning).count()).toBe(0);
    expect(unexpectedErrors(m)).toEqual([]);

    // An invite code naming another relay is refused in words, before this browser makes a device.
    const code = await inviteHandler(m.page, "A");
    const invite = JSON.parse(Buffer.from(code.slice(4), "base64url").toString("utf8")) as Record<
      string,
      unknown
    >;
    const elsewhere = `bc1-${Buffer.from(JSON.stringify({ ...invite, server: "http://127.0.0.1:9" })).toString("base64url")}`;
    const h = await openContext(browser);
    await h.page.goto(server.url);
    await h.page.getByLabel("Invite code from the mediator").fill(elsewhere);
    await h.page.getByRole("button", { name: "Join the caucus" }).click();
    await seeText(
      h.page.getByRole("alert"),
      `This invite code is for the relay at http://127.0.0.1:9, but this console talks to ${relayOrigin}. Run \`backchannel console --server http://127.0.0.1:9\``,
    );
    expect(RelayDatabase.of(server).partyDevices()).toEqual([]);
    expect(unexpectedErrors(h)).toEqual([]);
  });

  test("a console the relay serves (serve --console) says on every screen that the relay could read it", async () => {
    const m = await openContext(browser);
    await m.page.goto(relayServed.url);
    const notice = m.page.getByRole("complementary", { name: "Served by the relay" });
    await seeText(notice, warning);
    await seeText(notice, `backchannel console --server ${relayServed.relayUrl}`);
    await see(m.page.getByLabel("Your name, as parties will see it"));

    await createMediator(m.page, relayServed.url);
    await seeText(notice, warning);
    await createChannel(m.page, "no new strikes", ["A", "B"]);
    await seeText(m.page.getByRole("status"), "Live");
    await seeText(notice, warning);
    await screenshot(m.page, "console-relay-served", { fullPage: false });
    expect(unexpectedErrors(m)).toEqual([]);
  });
});
