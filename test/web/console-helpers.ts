/**
 * Steps through the web console as a person does it — labels, roles and visible text only — for
 * the browser tests in test/web/console-*.test.ts. Nothing here reaches into the app: the only
 * page.evaluate calls read layout and focus (and run axe-core, injected over DevTools), and the only other oracle is the relay's own SQLite
 * file (what the server stores, e.g. full device ids, and the place a tamper test attacks).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import { expect } from "vitest";
import { sqliteFileName } from "../../src/server/storage/sqlite/sqlite-storage.js";
import { ServerDatabase } from "../helpers/server-database.js";
import { startConsoleServer, type BrowserSession, type ConsoleServer } from "./harness.js";

/** How long a screen may take to show what it must (crypto, sync and push included). */
export const SEE = 20_000;

/**
 * The session's errors, except any `alsoExpected`. A healthy run shows none: a handler waiting to
 * be admitted asks /v1/me before it asks for its Welcome, so not even a 404 is logged.
 */
export function unexpectedErrors(session: BrowserSession, alsoExpected: RegExp[] = []): string[] {
  return session.errors.filter((e) => !alsoExpected.some((re) => re.test(e)));
}

/** Waits until the locator is visible (and returns it), failing with what was awaited. */
export async function see(locator: Locator, timeout = SEE): Promise<Locator> {
  await locator.first().waitFor({ state: "visible", timeout });
  return locator;
}

/** Whitespace-normalised visible text. */
export async function textOf(locator: Locator): Promise<string> {
  return (await locator.innerText()).replace(/\s+/g, " ").trim();
}

/** Waits until the locator's visible text contains `text`. */
export async function seeText(locator: Locator, text: string, timeout = SEE): Promise<void> {
  await expect.poll(() => textOf(locator), { timeout, interval: 100 }).toContain(text);
}

// ---------------------------------------------------------------------------------------------
// Mediator console

export async function createMediator(page: Page, url: string, name = "The mediator"): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Your name, as parties will see it").fill(name);
  await page.getByRole("button", { name: "Create mediator device" }).click();
  await see(page.getByRole("heading", { name: "Backchannel — mediator console" }));
}

export async function createChannel(page: Page, topic: string, parties: string[]): Promise<void> {
  await page.getByLabel("Topic").fill(topic);
  await page.getByLabel("Parties, one per line").fill(parties.join("\n"));
  await page.getByRole("button", { name: "Create channel" }).click();
  await see(page.getByRole("heading", { name: `“${topic}”` }));
  for (const p of parties) await see(caucusColumn(page, p));
}

/** One party's caucus column in the mediator's console. */
export function caucusColumn(page: Page, party: string): Locator {
  return page.getByRole("region", { name: `Caucus ${party}`, exact: true });
}

/**
 * Invites a handler for `party`: reads the code shown once, then "Done" — after which the code
 * is gone from the screen.
 */
export async function inviteHandler(page: Page, party: string): Promise<string> {
  await page.getByRole("button", { name: `Invite a handler for ${party}`, exact: true }).click();
  const box = page.getByRole("textbox", { name: `Invite code for ${party}`, exact: true });
  await see(box);
  expect(await box.isEditable()).toBe(false);
  const code = await box.inputValue();
  expect(code).toMatch(/^bc1-[A-Za-z0-9_-]+$/);
  await page.getByRole("button", { name: "Done", exact: true }).click();
  await box.waitFor({ state: "detached" });
  expect(await page.content()).not.toContain(code);
  return code;
}

/** The handler devices listed in a caucus column, as the 8-character ids the console shows. */
export async function shownHandlerIds(page: Page, party: string): Promise<string[]> {
  const summaries = await caucusColumn(page, party)
    .getByText(/^Device [0-9a-f]{8}$/)
    .allInnerTexts();
  return summaries.map((s) => s.replace("Device ", ""));
}

/** Opens a handler's details in the mediator's console and reads its verification code (as shown). */
export async function mediatorVerificationCode(page: Page, party: string, shortId: string): Promise<string> {
  const column = caucusColumn(page, party);
  await column.getByText(`Device ${shortId}`, { exact: true }).click();
  const code = codeIn(column, `Verification code of ${party} device ${shortId}`);
  await see(code);
  return (await code.innerText()).trim();
}

// ---------------------------------------------------------------------------------------------
// Party view

/**
 * Redeems an invite code in a fresh browser; the mediator (in the console that made the invite)
 * compares the verification codes, "compare, then admit", and admits it. Waits until admitted.
 */
export async function joinAsHandler(
  page: Page,
  url: string,
  code: string,
  admittedBy: { page: Page; party: string },
): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Invite code from the mediator").fill(code);
  await page.getByRole("button", { name: "Join the caucus" }).click();
  await see(page.getByRole("heading", { name: "Waiting for the mediator" }));
  const handlerCode = await partyVerificationCode(page);
  const waiting = admittedBy.page.getByRole("group", {
    name: `Waiting for admission to ${admittedBy.party}`,
    exact: true,
  });
  const shown = codeIn(waiting, /^Verification code of waiting /);
  await see(shown);
  expect((await shown.innerText()).trim()).toBe(handlerCode);
  await waiting.getByRole("button", { name: /^Codes match: admit device / }).click();
  await see(page.getByLabel("What you want to signal"));
}

/** Opens the party's "Verification code" details and reads the code (lines of digit groups). */
export async function partyVerificationCode(page: Page): Promise<string> {
  const code = codeIn(page, "Verification code");
  // The details may be open already (the handler read the code while waiting to be admitted).
  if (!(await code.isVisible()))
    await page.locator("summary", { hasText: "Verification code" }).first().click();
  await see(code);
  return (await code.innerText()).trim();
}

/** The digits of a verification code: a figure named by its caption (verification-code.tsx). */
export function codeIn(scope: Page | Locator, name: string | RegExp): Locator {
  return scope.getByRole("figure", { name, exact: true }).locator("pre");
}

export interface SignalOptions {
  disclosure?: "verbatim" | "substance" | "mediator_only";
  anonymous?: boolean;
}

const disclosureLabel = {
  verbatim: "Convey it verbatim (or in substance)",
  substance: "Convey it in substance only",
  mediator_only: "Keep it for the mediator only",
};

/** Sends a signal from the party view and waits until it is in the party's own transcript. */
export async function sendSignal(page: Page, text: string, options: SignalOptions = {}): Promise<Locator> {
  await page.getByLabel("What you want to signal").fill(text);
  await page.getByLabel(disclosureLabel[options.disclosure ?? "substance"]).check();
  await page.getByLabel(options.anonymous ? "“A party” (anonymous)" : "My party").check();
  await page.getByRole("button", { name: "Send signal" }).click();
  return see(eventCard(page, /Notification of intent/, text));
}

/** A transcript event ("#3 Notification of intent", …) holding `text`, within `scope`. */
export function eventCard(scope: Page | Locator, title: RegExp, text?: string): Locator {
  const cards = scope.getByRole("article", { name: new RegExp(`^#\\d+ ${title.source}`) });
  return text === undefined ? cards : cards.filter({ hasText: text });
}

/** The seq number of a transcript card, from its "#n …" name. */
export async function seqOf(card: Locator): Promise<number> {
  const label = await card.getAttribute("aria-label");
  const m = /^#(\d+) /.exec(label ?? "");
  if (!m) throw new Error(`not a transcript card: ${label}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------
// Keyboard

/** Presses Tab until `target` has the focus (fails after `max` presses). */
export async function tabTo(page: Page, target: Locator, max = 250): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
  }
  throw new Error(`Tab never reached ${target.toString()}`);
}

// ---------------------------------------------------------------------------------------------
// What a page shows, for the isolation checks

/** Every string of `needles` found in the page's visible text or its HTML. */
export async function leaks(page: Page, needles: string[]): Promise<string[]> {
  const text = await page.locator("body").innerText();
  const html = await page.content();
  return needles.filter((n) => text.includes(n) || html.includes(n));
}

/** The page's content is no wider than its window (nothing to scroll sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth);
}

// ---------------------------------------------------------------------------------------------
// The relay

/**
 * Stops the relay and starts a new one on the same port and data directory, as after a restart;
 * the console's own server keeps running. The returned server's close() keeps the data and the
 * console's server; the original's close() still deletes the one and stops the other.
 */
export async function restartServer(server: ConsoleServer): Promise<ConsoleServer> {
  await server.server.close();
  return startConsoleServer({
    dataDir: server.dataDir,
    port: server.server.port,
    ...(server.consoleHost ? { consoleHost: server.consoleHost } : {}),
  });
}

/**
 * The relay's SQLite file, opened on a second connection as an attacker with disk access would
 * (test/helpers/server-database.ts), with what the console tests look up in it.
 */
export class RelayDatabase extends ServerDatabase {
  static of(server: ConsoleServer): RelayDatabase {
    return new RelayDatabase(join(server.dataDir, sqliteFileName));
  }

  /** Every party handler device the relay knows, with its caucus. */
  partyDevices(): { deviceId: string; caucusId: string }[] {
    return this.with((db) =>
      (
        db
          .prepare("SELECT device_id, caucus_id FROM memberships WHERE role = 'party' ORDER BY device_id")
          .all() as { device_id: string; caucus_id: string }[]
      ).map((r) => ({ deviceId: r.device_id, caucusId: r.caucus_id })),
    );
  }

  /** The one party device whose id starts with what the console showed. */
  partyDevice(shortId: string): { deviceId: string; caucusId: string } {
    const found = this.partyDevices().filter((d) => d.deviceId.startsWith(shortId));
    if (found.length !== 1) throw new Error(`${found.length} party devices start with ${shortId}`);
    return found[0]!;
  }

  eventCount(caucusId: string): number {
    return this.with(
      (db) =>
        (db.prepare("SELECT count(*) AS n FROM events WHERE caucus_id = ?").get(caucusId) as { n: number }).n,
    );
  }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core's violations of moderate impact or worse. Injected over DevTools (the CSP forbids inline script). */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(ctx: Document): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    return (await axe.run(document)).violations;
  });
  return violations
    .filter((v) => v.impact !== "minor" && v.impact !== null)
    .map(
      (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")})`,
    );
}
