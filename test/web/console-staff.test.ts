import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Browser } from "playwright-core";
import {
  launchBrowser,
  openContext,
  screenshot,
  startConsoleServer,
  type BrowserSession,
  type ConsoleServer,
} from "./harness.js";
import {
  caucusColumn,
  createChannel,
  createMediator,
  inviteHandler,
  joinAsHandler,
  see,
  seeText,
  sendSignal,
  unexpectedErrors,
} from "./console-helpers.js";

/** The mediator's staff: link a second mediator device from the console, use it, remove it. */
describe("mediator devices in the console", () => {
  let server: ConsoleServer;
  let browser: Browser;
  let sessions: BrowserSession[] = [];
  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const s of sessions) await s.close();
    await browser?.close();
    await server?.close();
  });

  test("a linked staff device joins every caucus, sees new signals, and loses access when removed", async () => {
    const lead = await openContext(browser);
    const staff = await openContext(browser);
    const party = await openContext(browser);
    sessions = [lead, staff, party];
    await createMediator(lead.page, server.url, "Lead mediator");
    await createChannel(lead.page, "staff check", ["North", "South"]);

    await lead.page.getByRole("button", { name: "Link a staff device" }).click();
    const code = await see(lead.page.getByRole("textbox", { name: "Link code for a staff device" }));
    const linkCode = await code.inputValue();
    expect(linkCode).toMatch(/^bc1m-/);
    await lead.page.getByRole("button", { name: "Done" }).click();
    await expect(
      lead.page.getByRole("textbox", { name: "Link code for a staff device" }).count(),
    ).resolves.toBe(0);

    await staff.page.goto(server.url);
    await staff.page.getByText("I am on the mediator's staff").click();
    await staff.page.getByLabel("Link code from one of the mediator's devices").fill(linkCode);
    await staff.page.getByRole("button", { name: "Link this device" }).click();
    // The lead's console admits it (live); the staff console then shows the channel's caucuses.
    await seeText(staff.page.getByRole("button", { name: "staff check" }), "staff check", 30_000);
    await see(caucusColumn(staff.page, "North"));
    await seeText(
      lead.page.getByRole("heading", { name: /Mediator devices/ }),
      "Mediator devices (2)",
      30_000,
    );

    const invite = await inviteHandler(staff.page, "North");
    await joinAsHandler(party.page, server.url, invite, { page: staff.page, party: "North" });
    await sendSignal(party.page, "North does not intend to move forward this week.");
    for (const page of [lead.page, staff.page])
      await seeText(caucusColumn(page, "North"), "North does not intend to move forward this week.", 30_000);
    await screenshot(lead.page, "mediator-devices");

    lead.page.once("dialog", (d) => void d.accept());
    await lead.page.getByRole("button", { name: /Remove mediator device/ }).click();
    await seeText(
      lead.page.getByRole("heading", { name: /Mediator devices/ }),
      "Mediator devices (1)",
      30_000,
    );
    await sendSignal(party.page, "Said after the staff device was removed.");
    await seeText(caucusColumn(lead.page, "North"), "Said after the staff device was removed.", 30_000);
    await staff.page.reload();
    await see(caucusColumn(staff.page, "North"));
    expect(await caucusColumn(staff.page, "North").innerText()).not.toContain(
      "Said after the staff device was removed.",
    );
    for (const s of [lead, party]) expect(unexpectedErrors(s)).toEqual([]);
  }, 180_000);
});
