import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  createChannel,
  createMediator,
  joinAsHandler,
  see,
  seeText,
  unexpectedErrors,
} from "./console-helpers.js";
import { launchBrowser, openContext, startConsoleServer, type ConsoleServer } from "./harness.js";

/** Issue 11: the console shows an invite's short code, and a handler joins by typing it. */
describe("the short invite code in the console", () => {
  let server: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the mediator reads out the short code; the handler types it and is admitted", async () => {
    const m = await openContext(browser);
    const h = await openContext(browser);
    try {
      await createMediator(m.page, server.url);
      await createChannel(m.page, "no new strikes", ["A", "B"]);
      await m.page.getByRole("button", { name: "Invite a handler for A", exact: true }).click();
      const short = m.page.getByRole("status", { name: "Invite code for A, short form", exact: true });
      await see(short);
      const shortCode = (await short.innerText()).trim();
      expect(shortCode).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
      // The long form and its QR code are still there.
      const long = m.page.getByRole("textbox", { name: "Invite code for A", exact: true });
      expect(await long.inputValue()).toMatch(/^bc1-/);
      await m.page.getByRole("button", { name: "Show as QR code" }).click();
      await see(m.page.getByRole("img", { name: "Invite code for A as a QR code" }));
      await m.page.getByRole("button", { name: "Done", exact: true }).click();
      await long.waitFor({ state: "detached" });

      // A wrong code is refused in words and spends nothing.
      await h.page.goto(server.url);
      const wrong = shortCode.slice(0, -1) + (shortCode.endsWith("X") ? "Y" : "X");
      await h.page.getByLabel("Invite code from the mediator").fill(wrong);
      await h.page.getByRole("button", { name: "Join the caucus" }).click();
      await seeText(h.page.getByRole("alert"), "not valid on this server");

      // Read over the phone: typed in lower case, with spaces.
      await joinAsHandler(h.page, server.url, shortCode.toLowerCase().replace(/-/g, " "), {
        page: m.page,
        party: "A",
      });
      await see(caucusColumn(m.page, "A").getByText(/^Device [0-9a-f]{8}$/));
      expect(unexpectedErrors(h, [/404/])).toEqual([]);
      expect(unexpectedErrors(m)).toEqual([]);
    } finally {
      await h.close();
      await m.close();
    }
  });
});
