import { encodeQR } from "@paulmillr/qr";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  codeIn,
  eventCard,
  horizontalOverflow,
  inviteHandler,
  joinAsHandler,
  mediatorVerificationCode,
  partyVerificationCode,
  see,
  seeText,
  shownHandlerIds,
  tabTo,
  unexpectedErrors,
  axeViolations,
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
 * The console for people who use it with a screen reader, the keyboard alone, a phone, or dark
 * mode (issue 11, items 5 and 8 and the proof): axe-core finds nothing of moderate impact
 * or worse on any main view in either colour scheme; every control's boundary and the focus ring
 * stand out at least 3:1; screenshots at 390 px and 1280 px, light and dark, land in
 * artifacts/screenshots; and the story runs with Tab, Enter, Space and typing alone.
 *
 * One relay and one browser for the file. The keyboard-only story comes first and leaves the
 * mediator, A's handler and the staff landing open for the views after it.
 */
const TOPIC = "no new strikes";
const SIGNAL = "We are not interested in escalating at this stage.";
const SUBSTANCE = "A has indicated that it does not seek further escalation at this time.";
type Scheme = "light" | "dark";

/**
 * For every visible text field and select: its border against what it sits on, and the focus
 * ring (focused from the keyboard) against the same, as contrast ratios. Returns those below 3:1.
 */
async function weakControls(page: Page): Promise<string[]> {
  const fields = page.locator("input:not([type=radio]):not([type=checkbox]), textarea, select");
  const weak: string[] = [];
  for (const field of await fields.all()) {
    if (!(await field.isVisible()) || !(await field.isEnabled())) continue;
    await field.focus();
    const r = await field.evaluate((el) => {
      const rgb = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const ratio = (a: string, b: string) => {
        const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
        return (x! + 0.05) / (y! + 0.05);
      };
      let behind = el.parentElement;
      let bg = "rgb(255, 255, 255)";
      while (behind) {
        const c = getComputedStyle(behind).backgroundColor;
        if (!/rgba\(.*, 0\)$/.test(c) && c !== "transparent") {
          bg = c;
          break;
        }
        behind = behind.parentElement;
      }
      const style = getComputedStyle(el);
      return {
        name: el.id || el.getAttribute("aria-label") || el.tagName,
        border: ratio(style.borderTopColor, bg),
        focus: style.outlineStyle === "none" ? 0 : ratio(style.outlineColor, bg),
      };
    });
    if (r.border < 3) weak.push(`${r.name}: border ${r.border.toFixed(2)}:1`);
    if (r.focus < 3) weak.push(`${r.name}: focus ring ${r.focus.toFixed(2)}:1`);
  }
  return weak;
}

/** axe and the control check in both schemes, and screenshots at both widths in both. */
async function checkView(page: Page, name: string): Promise<void> {
  const viewport = page.viewportSize()!;
  for (const scheme of ["light", "dark"] as Scheme[]) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeViolations(page), `${name} (${scheme})`).toEqual([]);
    expect(await weakControls(page), `${name} (${scheme})`).toEqual([]);
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
      // What a person sees on arriving: the top of the page, nothing focused.
      await page.evaluate(() => {
        (document.activeElement as HTMLElement | null)?.blur();
        window.scrollTo(0, 0);
      });
      await screenshot(page, `${name}-${width}-${scheme}`, { fullPage: false });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(viewport);
}

/** Tab until `target` has the focus, then press `key` (Enter for buttons and links, Space for boxes). */
async function press(page: Page, target: Locator, key: "Enter" | " " = "Enter"): Promise<void> {
  await tabTo(page, target);
  await page.keyboard.press(key);
}

/** Tab to a field and type into it. */
async function typeInto(page: Page, target: Locator, text: string): Promise<void> {
  await tabTo(page, target);
  await page.keyboard.type(text);
}

describe("the console is accessible", () => {
  let server: ConsoleServer;
  let browser: Browser;
  let m: BrowserSession;
  let a: BrowserSession;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the story runs with the keyboard alone (Tab, Enter, Space and typing)", async () => {
    m = await openContext(browser);
    a = await openContext(browser);
    const mp = m.page;
    await mp.goto(server.url);
    await typeInto(mp, mp.getByLabel("Your name, as parties will see it"), "The mediator");
    await press(mp, mp.getByRole("button", { name: "Create mediator device" }));
    await see(mp.getByRole("heading", { name: "Backchannel — mediator console" }));
    await typeInto(mp, mp.getByLabel("Topic"), TOPIC);
    await typeInto(mp, mp.getByLabel("Parties, one per line"), "A");
    await mp.keyboard.press("Enter"); // a new line in the textarea
    await mp.keyboard.type("B");
    await press(mp, mp.getByRole("button", { name: "Create channel" }));
    await see(caucusColumn(mp, "B"));

    await press(mp, mp.getByRole("button", { name: "Invite a handler for A", exact: true }));
    const box = mp.getByRole("textbox", { name: "Invite code for A", exact: true });
    await see(box);
    const code = await box.inputValue();
    await press(mp, mp.getByRole("button", { name: "Done", exact: true }));

    const ap = a.page;
    await ap.goto(server.url);
    await tabTo(ap, ap.getByLabel("Invite code from the mediator"));
    await ap.keyboard.insertText(code); // as a paste would
    await press(ap, ap.getByRole("button", { name: "Join the caucus" }));
    await see(ap.getByRole("heading", { name: "Waiting for the mediator" }));
    const handlerCode = await partyVerificationCode(ap);
    const waiting = mp.getByRole("group", { name: "Waiting for admission to A", exact: true });
    await see(codeIn(waiting, /^Verification code of waiting /));
    expect((await codeIn(waiting, /^Verification code of waiting /).innerText()).trim()).toBe(handlerCode);
    await press(mp, waiting.getByRole("button", { name: /^Codes match: admit device / }), " ");

    await typeInto(ap, ap.getByLabel("What you want to signal"), SIGNAL);
    await press(ap, ap.getByRole("button", { name: "Send signal" }));
    const atM = eventCard(caucusColumn(mp, "A"), /Notification of intent/, SIGNAL);
    await see(atM);
    await press(mp, atM.getByRole("button", { name: /^Convey #\d+ from A$/ }));
    const form = mp.getByRole("form", { name: /^Convey #\d+ from A$/ });
    // The signal's default: in substance only, so the mediator words it (radios: Space checks one).
    await press(mp, form.getByLabel("In substance (your wording)"), " ");
    await typeInto(mp, form.getByLabel("Wording the recipients will see"), SUBSTANCE);
    // B is ticked already (every other party); Space would untick it.
    expect(await form.getByRole("checkbox", { name: "B", exact: true }).isChecked()).toBe(true);
    await press(mp, form.getByRole("button", { name: "Convey and post receipt" }));
    await see(eventCard(caucusColumn(mp, "B"), /Conveyed notification of intent from A/, SUBSTANCE));
    await seeText(eventCard(ap, /Receipt for/), "Conveyed to B in substance");
    expect(unexpectedErrors(m)).toEqual([]);
    expect(unexpectedErrors(a)).toEqual([]);
  });

  test("the landing and the staff form: no axe violation, controls stand out, light and dark", async () => {
    const s = await openContext(browser);
    await s.page.goto(server.url);
    await see(s.page.getByRole("button", { name: "Create mediator device" }));
    await checkView(s.page, "a11y-landing");
    await press(s.page, s.page.locator("summary", { hasText: "I am on the mediator's staff" }));
    await see(s.page.getByLabel("Link code from one of the mediator's devices"));
    await checkView(s.page, "a11y-staff-landing");
    await s.close();
  });

  test("the mediator console: no axe violation, controls stand out, light and dark", async () => {
    await see(caucusColumn(m.page, "A"));
    await checkView(m.page, "a11y-mediator");
    // The staff part of the console, with a link code on screen.
    await press(m.page, m.page.getByRole("button", { name: "Link a staff device" }));
    await see(m.page.getByRole("textbox", { name: "Link code for a staff device" }));
    await checkView(m.page, "a11y-mediator-staff");
    await press(m.page, m.page.getByRole("button", { name: "Done", exact: true }));
  });

  test("the party view: no axe violation, controls stand out, light and dark", async () => {
    await see(a.page.getByLabel("What you want to signal"));
    await checkView(a.page, "a11y-party");
  });
  test("at 390 px the mediator's first caucus and the party's transcript are on the first screen; composing folds away", async () => {
    const phone = { width: 390, height: 844 };
    const top = async (l: Locator) => (await l.boundingBox())!.y;
    for (const page of [m.page, a.page]) {
      await page.setViewportSize(phone);
      await page.evaluate(() => window.scrollTo(0, 0));
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    }
    // The caucus's heading and its first lines show without scrolling.
    const firstCaucus = caucusColumn(m.page, "A");
    expect(await top(firstCaucus.getByRole("heading", { name: "A", exact: true }))).toBeLessThan(
      phone.height - 200,
    );
    const transcript = a.page.getByRole("heading", { name: "Your caucus" });
    expect(await top(transcript)).toBeLessThan(phone.height - 200);
    await screenshot(m.page, "layout-mediator-390", { fullPage: false });
    await screenshot(a.page, "layout-party-390", { fullPage: false });

    // The compose form is a panel that folds: Enter on its summary hides and shows it.
    const compose = a.page.getByLabel("What you want to signal");
    expect(await compose.isVisible()).toBe(true);
    await press(a.page, a.page.locator("summary", { hasText: "Send a signal to the mediator" }));
    await compose.waitFor({ state: "hidden" });
    await press(a.page, a.page.locator("summary", { hasText: "Send a signal to the mediator" }));
    await see(compose);

    // A tablet: no sideways scrolling of the page either.
    for (const [page, name] of [
      [m.page, "mediator"],
      [a.page, "party"],
    ] as const) {
      await page.setViewportSize({ width: 820, height: 1180 });
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `layout-${name}-820`, { fullPage: false });
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });
  test("verification: mark as verified, a badge that outlasts a reload, a QR code, and a warning when a verified party's devices change", async () => {
    const mp = m.page;
    const colA = caucusColumn(mp, "A");
    const [shortA] = await shownHandlerIds(mp, "A");
    expect(await mediatorVerificationCode(mp, "A", shortA!)).toBe(await partyVerificationCode(a.page));
    await seeText(colA, "Not verified yet");
    await colA.getByRole("button", { name: "Mark as verified", exact: true }).click();
    await seeText(colA, "✓ Verified every handler device of A");

    // The code as a QR code, on request.
    await colA.getByRole("button", { name: "Show as QR code" }).click();
    await see(colA.getByRole("img", { name: `Verification code of A device ${shortA} as a QR code` }));

    // Kept in this browser: after a reload the badge is still there.
    await mp.reload();
    await seeText(caucusColumn(mp, "A"), "✓ Verified every handler device of A");

    // A second handler device for A: the mediator is told to compare again, naming the new one.
    const code = await inviteHandler(mp, "A");
    const a2 = await openContext(browser);
    await joinAsHandler(a2.page, server.url, code, { page: mp, party: "A" });
    const ids = await shownHandlerIds(mp, "A");
    const added = ids.find((id) => id !== shortA)!;
    const warning = colA
      .getByRole("alert")
      .filter({ hasText: "A's devices changed since you verified them" });
    await seeText(warning, `compare the code of device ${added} again`);
    await screenshot(mp, "verify-again-mediator", { fullPage: false });
    await mediatorVerificationCode(mp, "A", added);
    await colA.getByRole("button", { name: "Mark as verified", exact: true }).click();
    await seeText(colA, "✓ Verified every handler device of A");
    expect(await warning.count()).toBe(0);

    // The handler marks the mediator verified; that too outlasts a reload.
    await partyVerificationCode(a.page);
    await a.page.getByRole("button", { name: "Mark as verified", exact: true }).click();
    const badge = a.page.locator("summary", { hasText: "Verification code" }).getByText("✓ Verified");
    await see(badge);
    await a.page.reload();
    // Verified, the code folds away (it is open on every visit until then).
    await see(a.page.getByRole("heading", { name: "Your caucus" }));
    await expect.poll(() => codeIn(a.page, "Verification code").isVisible()).toBe(false);
    await see(badge);
    expect(await axeViolations(mp)).toEqual([]);
    expect(unexpectedErrors(a2)).toEqual([]);
    await a2.close();
  });
  test("an invite code can be shown as a QR code holding exactly the code", async () => {
    const mp = m.page;
    await mp.getByRole("button", { name: "Invite a handler for B", exact: true }).click();
    const box = mp.getByRole("textbox", { name: "Invite code for B", exact: true });
    const code = await (await see(box)).inputValue();
    const shown = mp.getByRole("group", { name: "Invite code for B", exact: true });
    await shown.getByRole("button", { name: "Show as QR code" }).click();
    const qr = await see(shown.getByRole("img", { name: "Invite code for B as a QR code" }));
    // The modules drawn are the ones @paulmillr/qr makes of the code, in Node.
    const grid = encodeQR(code, "raw", { ecc: "low", border: 4 });
    let d = "";
    grid.forEach((row, y) => row.forEach((dark, x) => (d += dark ? `M${x} ${y}h1v1h-1z` : "")));
    expect(await qr.locator("path").getAttribute("d")).toBe(d);
    expect(await axeViolations(mp)).toEqual([]);
    await screenshot(mp, "invite-qr", { fullPage: false });
    await mp.getByRole("button", { name: "Done", exact: true }).click();
    await box.waitFor({ state: "detached" });
  });
});
