import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
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
  sendSignal,
  seqOf,
  shownHandlerIds,
  textOf,
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
 * The console enforces what the sender allowed (docs/design.md, invariant 3) and never shows a broken
 * transcript as normal (invariant 5); every rejection reads as a sentence.
 */
describe("the console's rules, as the screens show them", () => {
  let server: ConsoleServer;
  let browser: Browser;
  const open = () => openContext(browser);
  /** One channel for the disclosure tests: each sends its own signal from A's handler. */
  let m: BrowserSession;
  let a: BrowserSession;
  let usedCode: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
    [m, a] = await Promise.all([open(), open()]);
    await createMediator(m.page, server.url);
    await createChannel(m.page, "disclosure rules", ["A", "B"]);
    usedCode = await inviteHandler(m.page, "A");
    await joinAsHandler(a.page, server.url, usedCode, { page: m.page, party: "A" });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A's handler sends `text`; returns the card as the mediator's console shows it in A's column. */
  async function signalAtMediator(text: string, options: Parameters<typeof sendSignal>[2]) {
    await sendSignal(a.page, text, options);
    return see(eventCard(caucusColumn(m.page, "A"), /Notification of intent/, text));
  }

  test("a substance-only signal offers no verbatim option", async () => {
    const text = "Substance only: we may consider a pause.";
    const card = await signalAtMediator(text, { disclosure: "substance" });
    await seeText(card, "Disclosure: substance only");
    const n = await seqOf(card);
    await card.getByRole("button", { name: `Convey #${n} from A` }).click();
    const form = await see(card.getByRole("form", { name: `Convey #${n} from A` }));
    await see(form.getByRole("radio", { name: "In substance (your wording)" }));
    expect(await form.getByRole("radio").count()).toBe(1);
    expect(await form.getByRole("radio", { name: /Verbatim/ }).count()).toBe(0);
    expect(await form.getByText(/Verbatim|Exact words/).count()).toBe(0);
    // The only wording is the mediator's own: the editor starts empty, and sending waits for it.
    const wording = form.getByLabel("Wording the recipients will see");
    expect(await wording.inputValue()).toBe("");
    expect(await wording.isEditable()).toBe(true);
    expect(await form.getByRole("button", { name: "Convey and post receipt" }).isDisabled()).toBe(true);
    await form.getByRole("button", { name: "Cancel" }).click();
    await see(card.getByRole("button", { name: `Convey #${n} from A` }));

    // The same form for a verbatim-allowed signal does offer both: the check above can fail.
    const both = await signalAtMediator("Verbatim allowed: we may consider a pause.", {
      disclosure: "verbatim",
    });
    const k = await seqOf(both);
    await both.getByRole("button", { name: `Convey #${k} from A` }).click();
    const bothForm = await see(both.getByRole("form", { name: `Convey #${k} from A` }));
    expect(await bothForm.getByRole("radio").count()).toBe(2);
    await bothForm.getByRole("button", { name: "Cancel" }).click();
    expect(unexpectedErrors(m)).toEqual([]);
  });

  test("a mediator-only signal has no convey action at all", async () => {
    const text = "For the mediator only: our principal is under pressure at home.";
    const card = await signalAtMediator(text, { disclosure: "mediator_only" });
    await seeText(card, "Disclosure: mediator only");
    await seeText(card, "Mediator only: not conveyable.");
    expect(await card.getByRole("button").count()).toBe(0);
    expect(await card.getByRole("form").count()).toBe(0);
    // A's own view says so too.
    const own = eventCard(a.page, /Notification of intent/, text);
    await seeText(own, "Disclosure: mediator only");
    await seeText(own, "Mediator only: not conveyable.");
    expect(unexpectedErrors(m)).toEqual([]);
  });

  test("an anonymous signal's convey form offers no way to name its source", async () => {
    const text = "Anonymously: a pause is conceivable.";
    const card = await signalAtMediator(text, { disclosure: "verbatim", anonymous: true });
    await seeText(card, "Attribution: anonymous (“a party”)");
    // Once sent, the compose form is back to its defaults: the next signal is not anonymous by accident.
    await expect.poll(() => a.page.getByLabel("My party").isChecked()).toBe(true);
    await expect.poll(() => a.page.getByLabel("Convey it in substance only").isChecked()).toBe(true);
    const n = await seqOf(card);
    await card.getByRole("button", { name: `Convey #${n} from A` }).click();
    const form = await see(card.getByRole("form", { name: `Convey #${n} from A` }));
    await seeText(form, "The sender asked not to be named: it will be conveyed as from “a party”.");
    expect(await form.getByText(/as the source/).count()).toBe(0);
    expect(await form.getByRole("checkbox", { name: /Name .* as the source/ }).count()).toBe(0);
    // The only checkboxes left are the recipients.
    expect(await form.getByRole("checkbox").count()).toBe(1);
    await see(form.getByRole("checkbox", { name: "B", exact: true }));
    const preview = form.getByRole("group", { name: "Preview" });
    await seeText(preview, `B will see: from a party: “${text}”`);
    await seeText(preview, `A's receipt will say: Conveyed to B verbatim, as “a party”: “${text}”`);
    expect(await textOf(preview)).not.toContain("from A");
    await form.getByRole("button", { name: "Cancel" }).click();

    // A named signal does offer it (so the absence above is not an accident of the page).
    const named = await signalAtMediator("Named: a pause is conceivable.", { disclosure: "verbatim" });
    const k = await seqOf(named);
    await named.getByRole("button", { name: `Convey #${k} from A` }).click();
    const namedForm = await see(named.getByRole("form", { name: `Convey #${k} from A` }));
    await see(namedForm.getByRole("checkbox", { name: "Name A as the source" }));
    await namedForm.getByRole("button", { name: "Cancel" }).click();
    expect(unexpectedErrors(m)).toEqual([]);
  });

  test("an event dropped from the relay's database is shown as a transcript problem, and sending stops", async () => {
    const mt = await open();
    const x = await open();
    await createMediator(mt.page, server.url, "Tamper mediator");
    await createChannel(mt.page, "tamper check", ["X", "Y"]);
    const code = await inviteHandler(mt.page, "X");
    await joinAsHandler(x.page, server.url, code, { page: mt.page, party: "X" });
    await seeText(caucusColumn(mt.page, "X"), "Handlers (1)");
    const [shortX] = await shownHandlerIds(mt.page, "X");
    const first = "First: we will not strike the port.";
    await sendSignal(x.page, first);
    await see(eventCard(caucusColumn(mt.page, "X"), /Notification of intent/, first));

    // The mediator closes its console; meanwhile X sends two more signals, and the relay's
    // database loses the first of them before the mediator has seen it.
    await mt.page.close();
    const dropped = await sendSignal(x.page, "Second: this one is dropped by the relay.");
    const kept = await sendSignal(x.page, "Third: this one arrives after the hole.");
    const droppedSeq = await seqOf(dropped);
    const keptSeq = await seqOf(kept);
    const relay = RelayDatabase.of(server);
    const { caucusId } = relay.partyDevice(shortX!);
    const before = relay.eventCount(caucusId);
    relay.deleteEvent(caucusId, droppedSeq);

    const page = await mt.context.newPage();
    await page.goto(server.url);
    const colX = caucusColumn(page, "X");
    const problem = colX.getByRole("alert");
    await seeText(
      problem,
      `Transcript problem — gap: expected event #${droppedSeq}, server sent #${keptSeq} (an event was dropped or reordered).`,
    );
    await seeText(problem, "sending is disabled");
    expect(await problem.evaluate((el) => getComputedStyle(el).color)).toBe("rgb(179, 38, 30)");
    expect(await colX.getByText("Transcript verified", { exact: true }).count()).toBe(0);
    // Nothing from the hole on is shown as normal.
    await see(eventCard(colX, /Notification of intent/, first));
    expect(await colX.getByText("this one arrives after the hole").count()).toBe(0);
    // No sending into the broken caucus, and nothing conveyed out of it…
    await expect.poll(() => colX.getByRole("button", { name: "Send note" }).isDisabled()).toBe(true);
    expect(await colX.getByLabel("Note to X (your own words)").isDisabled()).toBe(true);
    const convey = eventCard(colX, /Notification of intent/, first).getByRole("button", {
      name: /^Convey #/,
    });
    expect(await convey.isDisabled()).toBe(true);
    expect(relay.eventCount(caucusId)).toBe(before - 1);
    // …while the other caucus is untouched and still takes a note.
    const colY = caucusColumn(page, "Y");
    await see(colY.getByText("Transcript verified", { exact: true }));
    expect(await colY.getByRole("alert").count()).toBe(0);
    await colY.getByLabel("Note to Y (your own words)").fill("Y's caucus still works.");
    await colY.getByRole("button", { name: "Send note" }).click();
    await see(eventCard(colY, /Note/, "Y's caucus still works."));
    await seeText(page.getByRole("status"), "Live");
    await screenshot(page, "mediator-transcript-problem");
    for (const s of [mt, x]) expect(unexpectedErrors(s)).toEqual([]);
  });

  test("an invite code that was already used, or is not a code at all, is refused in plain words", async () => {
    const h = await open();
    await h.page.goto(server.url);
    const box = h.page.getByLabel("Invite code from the mediator");
    const join = h.page.getByRole("button", { name: "Join the caucus" });

    const alert = h.page.getByRole("alert");
    const invalid =
      "That is not a complete Backchannel invite code (a long one starts with bc1-, a short one is 20 letters and digits).";
    const used = "This invite code has already been used. Ask the mediator for a new one.";

    await box.fill("no new strikes, please");
    await join.click();
    await seeText(alert, invalid);

    await box.fill(usedCode);
    await join.click();
    await seeText(alert, used);
    expect(await textOf(alert)).not.toContain(invalid);

    await box.fill("bc1-this-is-not-a-code");
    await join.click();
    await seeText(alert, invalid);
    expect(await textOf(alert)).not.toContain(used);

    // Still on the join screen, nothing joined.
    await see(join);
    expect(await h.page.getByLabel("What you want to signal").count()).toBe(0);
    // The relay's refusal (409) is the one console error this may log.
    expect(
      unexpectedErrors(h, [/\/v1\/invites\/[^/]+\/redeem: Failed to load resource: .*status of 409/]),
    ).toEqual([]);
  });
});
