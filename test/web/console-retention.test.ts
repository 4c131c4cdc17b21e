import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { burntWords } from "../../src/sdk/index.js";
import { openStorage } from "../../src/server/storage/open-storage.js";
import {
  caucusColumn,
  createChannel,
  createMediator,
  eventCard,
  inviteHandler,
  joinAsHandler,
  RelayDatabase,
  see,
  seeText,
  unexpectedErrors,
} from "./console-helpers.js";
import {
  launchBrowser,
  openContext,
  screenshot,
  startConsoleServer,
  type BrowserSession,
  type ConsoleServer,
} from "./harness.js";

/**
 * What the console shows of retention (README "Retention"): a signal whose expiry passed is shown
 * as burnt, its words gone, on the sender's and the mediator's screens; a closed channel says so
 * on the party's screen, and its messages, once the relay deleted them, show as deleted.
 */
describe("the console's retention display", () => {
  let server: ConsoleServer;
  let browser: Browser;
  let m: BrowserSession;
  let a: BrowserSession;
  const HOUR = 3_600_000;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
    [m, a] = await Promise.all([openContext(browser), openContext(browser)]);
    await createMediator(m.page, server.url);
    await createChannel(m.page, "retention display", ["A", "B"]);
    await joinAsHandler(a.page, server.url, await inviteHandler(m.page, "A"), { page: m.page, party: "A" });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a signal whose expiry passed shows as burnt, its words gone, on both sides", async () => {
    const words = "This offer lapses within the hour.";
    await a.page.getByLabel("What you want to signal").fill(words);
    // Ten minutes on, in the browser's own time zone (a datetime-local field has no zone).
    const expires = await a.page.evaluate(() => {
      const d = new Date(Date.now() + 10 * 60_000);
      const two = (n: number) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
    });
    await a.page.getByLabel("Expires (optional)").fill(expires);
    await a.page.getByRole("button", { name: "Send signal" }).click();
    await see(eventCard(a.page, /Notification of intent/, words));
    await see(eventCard(caucusColumn(m.page, "A"), /Notification of intent/, words));

    // Two hours later on both devices' clocks (timers run as usual): each burns it on its next sync.
    for (const s of [a, m]) {
      await s.page.clock.setFixedTime(Date.now() + 2 * HOUR);
      await s.page.reload();
    }
    const burnt = burntWords({ reason: "expired" });
    await seeText(a.page.getByRole("main"), burnt);
    await seeText(caucusColumn(m.page, "A"), burnt);
    for (const s of [a, m]) expect(await s.page.content()).not.toContain(words);
    await screenshot(m.page, "console-retention-expired");
    for (const s of [a, m]) expect(unexpectedErrors(s)).toEqual([]);
  }, 120_000);

  test("a closed channel says so, and its deleted messages show as deleted", async () => {
    const words = "Said before the close.";
    await a.page.getByLabel("What you want to signal").fill(words);
    await a.page.getByRole("button", { name: "Send signal" }).click();
    await see(eventCard(caucusColumn(m.page, "A"), /Notification of intent/, words));

    // The console has no close action (`backchannel channel close` is the CLI's): the relay's
    // storage closes the channel and, at its deleteAt, deletes its messages, as the relay would.
    const { caucusId } = RelayDatabase.of(server).partyDevices()[0]!;
    const storage = await openStorage({ dataDir: server.dataDir });
    try {
      const channelId = (await storage.getCaucus(caucusId))!.channelId;
      const deleteAt = Date.now() + HOUR;
      await storage.closeChannel(channelId, deleteAt);
      await a.page.reload();
      await seeText(a.page.getByRole("main"), "The mediator closed this channel");
      expect(await a.page.content()).toContain(words);
      // Nothing more can be sent into it: the form says so by refusing input.
      expect(await a.page.getByLabel("What you want to signal").isDisabled()).toBe(true);
      await storage.sweepRetention(deleteAt);
    } finally {
      await storage.close();
    }
    await a.page.reload();
    await seeText(a.page.getByRole("main"), burntWords({ reason: "deleted" }));
    expect(await a.page.content()).not.toContain(words);
    await screenshot(a.page, "console-retention-closed");
    expect(unexpectedErrors(a)).toEqual([]);
  }, 120_000);
});
