import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  createChannel,
  createMediator,
  eventCard,
  inviteHandler,
  joinAsHandler,
  restartServer,
  see,
  seeText,
  sendSignal,
  unexpectedErrors,
} from "./console-helpers.js";
import { launchBrowser, openContext, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * The relay restarts under open consoles (same port, same data): each says "Reconnecting…", then
 * "Live" again by itself, and resumes from its cursor — no reload, nothing lost or doubled.
 */
describe("the console reconnects after the relay restarts", () => {
  let first: ConsoleServer;
  let second: ConsoleServer | undefined;
  let browser: Browser;

  beforeAll(async () => {
    [first, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await second?.close(); // keeps the data directory…
    await first?.close(); // …which the first server's close() deletes.
  });

  test("Reconnecting…, then Live, and a signal sent afterwards appears without a reload", async () => {
    const m = await openContext(browser);
    const a = await openContext(browser);
    const loads = { m: 0, a: 0 };
    m.page.on("load", () => loads.m++);
    a.page.on("load", () => loads.a++);

    await createMediator(m.page, first.url);
    await createChannel(m.page, "no new strikes", ["A", "B"]);
    await joinAsHandler(a.page, first.url, await inviteHandler(m.page, "A"), { page: m.page, party: "A" });
    const colA = caucusColumn(m.page, "A");
    const before = "Before the restart: no new strikes.";
    await sendSignal(a.page, before);
    await see(eventCard(colA, /Notification of intent/, before));
    for (const p of [m.page, a.page]) await seeText(p.getByRole("status"), "Live");
    const errorsBefore = { m: m.errors.length, a: a.errors.length };

    // The relay goes away: both screens say so (and keep what they had).
    await first.server.close();
    for (const p of [m.page, a.page]) await seeText(p.getByRole("status"), "Reconnecting…");
    await see(eventCard(colA, /Notification of intent/, before));

    // It comes back on the same port with the same data: both screens are live again by themselves.
    second = await restartServer(first);
    expect(second.url).toBe(first.url);
    for (const p of [m.page, a.page]) await seeText(p.getByRole("status"), "Live", 30_000);

    // A signal sent now reaches the mediator's open console, once; a note reaches A.
    const after = "After the restart: still no new strikes.";
    await sendSignal(a.page, after);
    await see(eventCard(colA, /Notification of intent/, after));
    await colA.getByLabel("Note to A (your own words)").fill("Still here.");
    await colA.getByRole("button", { name: "Send note" }).click();
    await see(eventCard(a.page, /Note/, "Still here."));
    expect(await eventCard(colA, /Notification of intent/).count()).toBe(2);
    expect(await eventCard(a.page, /Notification of intent/).count()).toBe(2);
    for (const p of [m.page, a.page]) {
      await see(p.getByText("Transcript verified", { exact: true }));
      expect(await p.getByRole("alert").count()).toBe(0);
    }
    expect(loads).toEqual({ m: 1, a: 1 });

    // While the relay was away the browser logged refused connections, and only those.
    const whileDown = /ERR_CONNECTION_REFUSED|WebSocket connection to '[^']+' failed/;
    for (const [s, n] of [
      [m, errorsBefore.m],
      [a, errorsBefore.a],
    ] as const) {
      expect(unexpectedErrors({ ...s, errors: s.errors.slice(0, n) })).toEqual([]);
      expect(unexpectedErrors({ ...s, errors: s.errors.slice(n) }, [whileDown])).toEqual([]);
    }
  });
});
