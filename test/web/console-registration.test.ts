import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newRegistrationToken } from "../../src/server/registration/registration-token.js";
import { openSqliteStorage } from "../../src/server/storage/sqlite/sqlite-storage.js";
import { see, seeText, unexpectedErrors } from "./console-helpers.js";
import { launchBrowser, openContext, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * A relay with closed registration, the default: the console's mediator form says what to do
 * without a token, and registers with the one the operator made (as `admin token create` makes
 * it, in the relay's own database while it serves).
 */
describe("registering a mediator in the console on a relay with closed registration", () => {
  let server: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer({ registration: "tokens" }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("refuses without a token, in words, then registers with the operator's token", async () => {
    const m = await openContext(browser);
    try {
      await m.page.goto(server.url);
      await m.page.getByLabel("Your name, as parties will see it").fill("The mediator");
      await m.page.getByRole("button", { name: "Create mediator device" }).click();
      await seeText(m.page.getByRole("alert"), "Ask the relay's operator for one");

      const made = newRegistrationToken();
      const relayDb = await openSqliteStorage({ dataDir: server.dataDir });
      await relayDb.createRegistrationToken({
        tokenId: made.tokenId,
        tokenHash: made.tokenHash,
        uses: 1,
        createdAt: Date.now(),
      });
      await relayDb.close();

      await m.page.getByLabel(/Registration token/).fill(made.token);
      await m.page.getByRole("button", { name: "Create mediator device" }).click();
      await see(m.page.getByRole("heading", { name: "Backchannel — mediator console" }));
      // The relay's 403 is the only error the page met, and it was expected.
      expect(unexpectedErrors(m, [/403/])).toEqual([]);
    } finally {
      await m.close();
    }
  });
});
