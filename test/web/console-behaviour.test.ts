import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  createChannel,
  createMediator,
  eventCard,
  inviteHandler,
  joinAsHandler,
  leaks,
  RelayDatabase,
  see,
  seeText,
  sendSignal,
  seqOf,
  shownHandlerIds,
  textOf,
  unexpectedErrors,
} from "./console-helpers.js";
import {
  launchBrowser,
  openContext,
  startConsoleServer,
  type BrowserSession,
  type ConsoleServer,
} from "./harness.js";

/**
 * How the console behaves for the people using it (issue 11, items 1, 2, 3, 6, 7 and 10): times on
 * every event, unread counts and a title badge, arrivals announced, what waits for the user marked,
 * the focus never dropped, acknowledgements with the choices a signal has, understandings proposed,
 * confirmed and reached. One relay, one browser, one channel: each test goes on from the last.
 */
const TOPIC = "the console's behaviour";
// A's handler reads the console far from UTC, in its own time zone: times are shown in it.
const ZONE = "Pacific/Kiritimati";
const LOCALE = "en-US";

describe("the console's behaviour", () => {
  let server: ConsoleServer;
  let browser: Browser;
  let m: BrowserSession;
  let a: BrowserSession;
  let b: BrowserSession;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
    [m, a, b] = await Promise.all([
      openContext(browser),
      openContext(browser, undefined, { timezoneId: ZONE, locale: LOCALE }),
      openContext(browser),
    ]);
    await createMediator(m.page, server.url);
    await createChannel(m.page, TOPIC, ["A", "B"]);
    await joinAsHandler(a.page, server.url, await inviteHandler(m.page, "A"), { page: m.page, party: "A" });
    await joinAsHandler(b.page, server.url, await inviteHandler(m.page, "B"), { page: m.page, party: "B" });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** What has the focus, as "TAG name" (never the body, after an action). */
  const focused = (page: Page) =>
    page.evaluate(() => {
      const el = document.activeElement;
      return el
        ? `${el.tagName} ${el.getAttribute("aria-label") ?? el.textContent?.trim().slice(0, 60)}`
        : "none";
    });
  const hasFocus = (locator: Locator) => locator.evaluate((el) => el === document.activeElement);

  /**
   * Records, from now on, every busy state the page shows — a disabled button's words, a form's
   * aria-busy — however briefly: creating a device may take less time than a test takes to look.
   */
  const recordBusy = (page: Page) =>
    page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { busySeen: string[] }).busySeen = seen;
      new MutationObserver(() => {
        for (const el of Array.from(document.querySelectorAll("button:disabled")))
          seen.push(`button ${el.textContent}`);
        for (const el of Array.from(document.querySelectorAll("form[aria-busy=true]")))
          seen.push(`busy ${el.getAttribute("aria-labelledby")}`);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
  const busySeen = (page: Page) =>
    page.evaluate(() => (window as unknown as { busySeen: string[] }).busySeen);

  /** The mediator's card of A's signal `text`, and its Convey button. */
  async function atMediator(text: string) {
    const card = await see(eventCard(caucusColumn(m.page, "A"), /Notification of intent/, text));
    const n = await seqOf(card);
    return { card, n, button: card.getByRole("button", { name: `Convey #${n} from A`, exact: true }) };
  }

  /** A's handler signals `text`; the mediator conveys it to B in `wording`. Returns B's card of it. */
  async function conveyedToB(text: string, wording: string): Promise<Locator> {
    await sendSignal(a.page, text);
    const { card, n, button } = await atMediator(text);
    await button.click();
    const form = card.getByRole("form", { name: `Convey #${n} from A` });
    await form.getByLabel("Wording the recipients will see").fill(wording);
    await form.getByRole("button", { name: "Convey and post receipt" }).click();
    await form.waitFor({ state: "detached" });
    await seeText(card, "Conveyed to B in substance");
    return see(eventCard(b.page, /Conveyed notification of intent from A/, wording));
  }

  test("3. each event shows when it was sent and when it arrived, in the reader's time zone", async () => {
    const before = Date.now();
    const card = await sendSignal(a.page, "We note the quiet of the last week.");
    const times = card.locator("time");
    await expect.poll(() => times.count()).toBe(2);
    await seeText(card, "Sent now · received now");
    for (const t of await times.all()) {
      const iso = (await t.getAttribute("datetime"))!;
      const ms = Date.parse(iso);
      expect(ms).toBeGreaterThanOrEqual(before - 1000);
      expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
      // The absolute time, in A's own zone: Kiritimati is UTC+14, a day ahead of most of the world.
      const absolute = new Intl.DateTimeFormat(LOCALE, {
        dateStyle: "medium",
        timeStyle: "medium",
        timeZone: ZONE,
      }).format(ms);
      expect(await t.getAttribute("title")).toBe(absolute);
    }
    // The mediator's card of it says when A sent it (A's clock, signed inside the ciphertext).
    const { card: atM } = await atMediator("We note the quiet of the last week.");
    await seeText(atM, "Sent now · received now");
    const sentAtA = await times.first().getAttribute("datetime");
    expect(await atM.locator("time").first().getAttribute("datetime")).toBe(sentAtA);
    expect(unexpectedErrors(a)).toEqual([]);
  });

  test("6. unread counts, a title badge, arrivals announced, and what waits for the user marked", async () => {
    const colA = caucusColumn(m.page, "A");
    // Working in a caucus reads it: the mediator clicks into both, and the title has no count.
    await colA.getByRole("heading", { level: 3 }).click();
    await caucusColumn(m.page, "B").getByRole("heading", { level: 3 }).click();
    await expect.poll(() => m.page.title()).toBe("Backchannel");

    const text = "We could consider a pause in the north.";
    await sendSignal(a.page, text);
    await expect.poll(() => m.page.title()).toBe("(1) Backchannel");
    await seeText(colA.getByRole("heading", { level: 3 }), "A 1 unread event");
    const { card, n, button } = await atMediator(text);
    await seeText(
      m.page.getByRole("log", { name: "Arriving events" }),
      `New in A's caucus (“${TOPIC}”): #${n}, notification of intent.`,
    );
    await seeText(card, "Waiting for you: convey it, or keep it to yourself");
    // Clicking into the caucus reads it.
    await card.locator("blockquote").click();
    await expect.poll(() => m.page.title()).toBe("Backchannel");
    expect(await colA.getByText(/unread event/).count()).toBe(0);

    // Conveyed, it waits no more; at B it waits for an acknowledgement, and B's title counts it.
    await button.click();
    const form = card.getByRole("form", { name: `Convey #${n} from A` });
    await form.getByLabel("Wording the recipients will see").fill("A may consider a pause in the north.");
    await form.getByRole("button", { name: "Convey and post receipt" }).click();
    await seeText(card, "Conveyed to B in substance");
    await expect.poll(() => card.getByText("Waiting for you").count()).toBe(0);
    const atB = await see(eventCard(b.page, /Conveyed notification of intent from A/, "pause in the north"));
    await seeText(atB, "Waiting for you: acknowledge it");
    await expect.poll(() => b.page.title()).toMatch(/^\(\d+\) Backchannel$/);
    await seeText(
      b.page.getByRole("log", { name: "Arriving events" }),
      `#${await seqOf(atB)}, a conveyance.`,
    );
    for (const s of [m, b]) expect(unexpectedErrors(s)).toEqual([]);
  });

  test("2. an acknowledgement offers the signal's disclosure and attribution choices, substance only by default", async () => {
    const atB = await conveyedToB(
      "Shall we talk about the ports?",
      "A asks whether the ports could be discussed.",
    );
    await atB.getByRole("button", { name: "Acknowledge…" }).click();
    const form = await see(atB.getByRole("form", { name: /^Acknowledge #\d+$/ }));
    // Chosen before sending, with the signal's defaults: substance only, named.
    expect(await form.getByRole("radio").count()).toBe(5);
    expect(await form.getByLabel("Convey it in substance only").isChecked()).toBe(true);
    expect(await form.getByLabel("My party").isChecked()).toBe(true);
    await form.getByLabel("Your acknowledgement (optional words)").fill("Received; nothing more.");
    await form.getByLabel("“A party” (anonymous)").check();
    await form.getByRole("button", { name: "Send acknowledgement" }).click();
    const ack = await see(eventCard(b.page, /Acknowledgement of #\d+/, "Received; nothing more."));
    await seeText(ack, "Disclosure: substance only · Attribution: anonymous");

    // The mediator may convey it only as B allowed: in substance, from "a party".
    const atM = await see(eventCard(caucusColumn(m.page, "B"), /Acknowledgement of #\d+/, "nothing more"));
    const k = await seqOf(atM);
    await atM.getByRole("button", { name: `Convey #${k} from B`, exact: true }).click();
    const convey = await see(atM.getByRole("form", { name: `Convey #${k} from B` }));
    expect(await convey.getByRole("radio").count()).toBe(1);
    await see(convey.getByRole("radio", { name: "In substance (your wording)" }));
    await seeText(convey, "The sender asked not to be named");
    await m.page.keyboard.press("Escape");
    await see(atM.getByRole("button", { name: `Convey #${k} from B`, exact: true }));
    for (const s of [m, b]) expect(unexpectedErrors(s)).toEqual([]);
  });

  test("7. the focus follows each action, Escape closes the convey form, and slow steps say so", async () => {
    const text = "Focus: a signal to convey.";
    // Sending a signal leaves the focus in the (emptied) text box, ready for the next.
    await sendSignal(a.page, text);
    await expect.poll(() => hasFocus(a.page.getByLabel("What you want to signal"))).toBe(true);

    const { card, n, button } = await atMediator(text);
    const form = card.getByRole("form", { name: `Convey #${n} from A` });
    await button.click();
    await see(form);
    await expect.poll(() => form.evaluate((f) => f.contains(document.activeElement))).toBe(true);
    // Escape closes it, and the focus goes back to the button that opened it.
    await m.page.keyboard.press("Escape");
    await form.waitFor({ state: "detached" });
    await expect.poll(() => hasFocus(button)).toBe(true);
    // So does Cancel, and so does conveying.
    await button.click();
    await form.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => hasFocus(button)).toBe(true);
    await button.click();
    await form.getByLabel("Wording the recipients will see").fill("A's handler tested the focus.");
    await form.getByRole("button", { name: "Convey and post receipt" }).click();
    await seeText(card, "Conveyed to B in substance");
    await expect.poll(() => hasFocus(button)).toBe(true);

    // B acknowledges: the form goes, and the focus is on the card it was in.
    const atB = await see(eventCard(b.page, /Conveyed notification of intent from A/, "tested the focus"));
    await atB.getByRole("button", { name: "Acknowledge…" }).click();
    await expect.poll(() => hasFocus(atB.getByLabel("Your acknowledgement (optional words)"))).toBe(true);
    await atB.getByRole("button", { name: "Send acknowledgement" }).click();
    await seeText(atB, "Acknowledged (#");
    await expect.poll(() => hasFocus(atB)).toBe(true);

    // The mediator's invite: the code has the focus; "Done" gives it back to the invite button.
    const invite = m.page.getByRole("button", { name: "Invite a handler for B", exact: true });
    await invite.click();
    await expect.poll(() => hasFocus(m.page.getByRole("textbox", { name: "Invite code for B" }))).toBe(true);
    await m.page.getByRole("button", { name: "Done", exact: true }).click();
    await expect.poll(() => hasFocus(invite)).toBe(true);

    // A new channel: the focus goes to its heading.
    await createChannel(m.page, "a second channel", ["C", "D"]);
    await expect.poll(() => hasFocus(m.page.getByRole("heading", { name: "“a second channel”" }))).toBe(true);
    await m.page.getByRole("button", { name: TOPIC, exact: true }).click();

    // Creating a device says "Creating…" with its form busy, then the console's heading has the focus.
    const fresh = await openContext(browser);
    await fresh.page.goto(server.url);
    await fresh.page.getByLabel("Your name, as parties will see it").fill("Another mediator");
    await recordBusy(fresh.page);
    await fresh.page.getByRole("button", { name: "Create mediator device" }).click();
    const heading = await see(fresh.page.getByRole("heading", { name: "Backchannel — mediator console" }));
    await expect.poll(() => hasFocus(heading)).toBe(true);
    expect(await busySeen(fresh.page)).toEqual(
      expect.arrayContaining(["button Creating…", "busy mediator-title"]),
    );
    await fresh.close();
    for (const s of [m, a, b]) {
      expect(await focused(s.page)).not.toMatch(/^BODY/);
      expect(unexpectedErrors(s)).toEqual([]);
    }
  }, 120_000);

  test("1 and 10. an understanding is proposed by a button, endorsed after seeing its words, and reached at every party", async () => {
    const words = "Neither side will strike first before the first of the month.";
    await m.page.getByRole("button", { name: "Propose an understanding…" }).click();
    await expect.poll(() => hasFocus(m.page.getByLabel(/^The understanding's exact words/))).toBe(true);
    await m.page.getByLabel(/^The understanding's exact words/).fill(words);
    await m.page.getByRole("button", { name: "Propose to every party" }).click();
    await seeText(m.page.getByText(/^Understandings: /), "0 reached of 1 proposed");

    for (const [party, session] of [
      ["A", a],
      ["B", b],
    ] as const) {
      const card = await see(eventCard(session.page, /Proposed understanding/, words));
      await seeText(card, "Waiting for you: endorse it, or leave it");
      // One click only asks, showing the exact words again; Cancel sends nothing.
      await card.getByRole("button", { name: "Endorse this exact text…" }).click();
      const ask = await see(card.getByRole("group", { name: /^Endorse these exact words\?/ }));
      expect(await textOf(ask.locator("blockquote"))).toBe(words);
      await ask.getByRole("button", { name: "Cancel" }).click();
      await ask.waitFor({ state: "detached" });
      await seeText(
        m.page.getByRole("region", { name: "Understandings" }),
        `waiting for ${party === "A" ? "A, B" : "B"}`,
      );
      await card.getByRole("button", { name: "Endorse this exact text…" }).click();
      await card.getByRole("button", { name: "Yes, endorse these exact words" }).click();
      await seeText(card, "endorsed this exact text");
      await expect.poll(() => hasFocus(card)).toBe(true);
    }

    // Both endorsed: the mediator says so to each party, and each party's card says "Reached".
    await seeText(m.page.getByText(/^Understandings: /), "1 reached of 1 proposed");
    for (const session of [a, b]) {
      const card = eventCard(session.page, /Proposed understanding/, words);
      await seeText(card, "Reached: every party endorsed this exact text");
      const news = await see(eventCard(session.page, /Understanding reached/, words));
      await seeText(news, "— The mediator");
    }
    // Nothing at B names A's handler's device, nor the reverse.
    const [shortA] = await shownHandlerIds(m.page, "A");
    const [shortB] = await shownHandlerIds(m.page, "B");
    expect(await leaks(b.page, [shortA!])).toEqual([]);
    expect(await leaks(a.page, [shortB!])).toEqual([]);
    for (const s of [m, a, b]) expect(unexpectedErrors(s)).toEqual([]);
  });

  test("10. conveying twice warns first, a past expiry is refused, counts are plural, a late handler's history says why", async () => {
    // Conveyed to B once already: conveying it again asks first.
    await conveyedToB("A second look at the pause.", "A takes a second look at the pause.");
    const { card, n, button } = await atMediator("A second look at the pause.");
    await button.click();
    const form = await see(card.getByRole("form", { name: `Convey #${n} from A` }));
    await form.getByLabel("Wording the recipients will see").fill("Again: a pause in the north.");
    const again = await see(form.getByRole("group", { name: "Conveyed before" }));
    await seeText(again, "Already conveyed to B (receipt #");
    await seeText(again, "conveying again sends B a second copy");
    const send = form.getByRole("button", { name: "Convey and post receipt" });
    expect(await send.isDisabled()).toBe(true);
    await form.getByLabel("Yes, convey it again to B").check();
    expect(await send.isDisabled()).toBe(false);
    await form.getByRole("button", { name: "Cancel" }).click();

    // An expiry in the past is refused in the form: nothing is sent.
    const relay = RelayDatabase.of(server);
    const caucusA = relay.partyDevice((await shownHandlerIds(m.page, "A"))[0]!).caucusId;
    const events = relay.eventCount(caucusA);
    await a.page.getByLabel("What you want to signal").fill("This one expired yesterday.");
    await a.page.getByLabel("Expires (optional)").fill("2020-01-01T10:00");
    await a.page.getByRole("button", { name: "Send signal" }).click();
    await seeText(a.page.getByRole("alert"), "The expiry is in the past");
    await expect.poll(() => hasFocus(a.page.getByLabel("Expires (optional)"))).toBe(true);
    expect(relay.eventCount(caucusA)).toBe(events);
    expect(await eventCard(a.page, /Notification of intent/, "expired yesterday").count()).toBe(0);
    await a.page.getByLabel("Expires (optional)").fill("");

    // Counts in words: "1 device added", "2 caucuses".
    await seeText(caucusColumn(m.page, "A"), "1 device added.");
    expect(await m.page.getByText("device(s)").count()).toBe(0);
    await seeText(m.page.getByRole("region", { name: "Mediator devices (1)" }), "This device · 4 caucuses");

    // A second handler for A, added late: "Joining…", then its history starts later, and says why.
    const late = await openContext(browser);
    await late.page.goto(server.url);
    await late.page.getByLabel("Invite code from the mediator").fill(await inviteHandler(m.page, "A"));
    await recordBusy(late.page);
    await late.page.getByRole("button", { name: "Join the caucus" }).click();
    await see(late.page.getByRole("heading", { name: "Waiting for the mediator" }));
    expect(await busySeen(late.page)).toEqual(expect.arrayContaining(["button Joining…", "busy join-title"]));
    const waiting = m.page.getByRole("group", { name: "Waiting for admission to A", exact: true });
    await seeText(waiting, "Waiting for you: compare the codes, then admit");
    await waiting.getByRole("button", { name: /^Codes match: admit device / }).click();
    // Admitted, the device leaves the waiting list for the handlers: the focus goes with it.
    await expect
      .poll(() => hasFocus(caucusColumn(m.page, "A").getByRole("heading", { name: "Handlers (2)" })))
      .toBe(true);
    const note = await see(late.page.getByText(/^This device's history starts at #\d+/));
    const [, start, joined] = /starts at #(\d+): it joined the caucus at #(\d+)\./.exec(await textOf(note))!;
    expect(Number(start)).toBe(Number(joined) + 1);
    expect(Number(joined)).toBeGreaterThan(5);
    await seeText(note, "encrypted before it was a member, so it cannot read them");
    await late.close();
    for (const s of [m, a]) expect(unexpectedErrors(s)).toEqual([]);
  }, 120_000);
});
