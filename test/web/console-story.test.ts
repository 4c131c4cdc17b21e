import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  createChannel,
  createMediator,
  eventCard,
  horizontalOverflow,
  inviteHandler,
  joinAsHandler,
  leaks,
  mediatorVerificationCode,
  partyVerificationCode,
  RelayDatabase,
  see,
  seeText,
  sendSignal,
  seqOf,
  shownHandlerIds,
  tabTo,
  textOf,
  unexpectedErrors,
} from "./console-helpers.js";
import { launchBrowser, openContext, screenshot, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * docs/design.md's acceptance story, played by three people in three separate browsers — the mediator,
 * A's handler and B's handler — through the console's screens alone, against a real relay on
 * SQLite. Every assertion is about what a screen shows.
 */
const TOPIC = "no new strikes";
const SIGNAL = "We are not interested in escalating at this stage.";
const SUBSTANCE = "A has indicated that it does not seek further escalation at this time.";
const ACK = "Received. No commitment, no coordination, no ceasefire.";
const NON_BINDING = "no commitment · no coordination · no obligation";

describe("the web console plays the acceptance story", () => {
  let server: ConsoleServer;
  let browser: Browser;
  const open = (viewport?: { width: number; height: number }) => openContext(browser, viewport);

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("mediator, A's handler and B's handler, each in their own browser", async () => {
    const m = await open();
    const a = await open();
    const b = await open();

    // 1. The mediator opens the channel and invites each party's handler out of band.
    await createMediator(m.page, server.url);
    await see(m.page.getByText("No channels yet."));
    await createChannel(m.page, TOPIC, ["A", "B"]);
    const colA = caucusColumn(m.page, "A");
    const colB = caucusColumn(m.page, "B");
    await seeText(colA, "No events yet. Invite A's handler to begin.");
    const codeA = await inviteHandler(m.page, "A");
    const codeB = await inviteHandler(m.page, "B");
    expect(codeA).not.toBe(codeB);

    // Each handler's device waits until the mediator compared its verification code and admitted it.
    await joinAsHandler(a.page, server.url, codeA, { page: m.page, party: "A" });
    await joinAsHandler(b.page, server.url, codeB, { page: m.page, party: "B" });
    for (const p of [a.page, b.page]) await seeText(p.getByRole("banner"), `“${TOPIC}”`);
    await seeText(a.page.getByRole("banner"), "You speak for A · mediator: The mediator");
    await seeText(b.page.getByRole("banner"), "You speak for B · mediator: The mediator");

    // The mediator's console lists one handler per caucus; the codes match the handlers' own.
    await seeText(colA, "Handlers (1)");
    await seeText(colB, "Handlers (1)");
    const [shortA] = await shownHandlerIds(m.page, "A");
    const [shortB] = await shownHandlerIds(m.page, "B");
    expect(shortA).toMatch(/^[0-9a-f]{8}$/);
    expect(shortB).toMatch(/^[0-9a-f]{8}$/);
    const codeOfA = await partyVerificationCode(a.page);
    const codeOfB = await partyVerificationCode(b.page);
    expect(codeOfA).toMatch(/^\d{5}( \d{5})*(\n\d{5}( \d{5})*)+$/);
    expect(codeOfA).not.toBe(codeOfB);
    expect(await mediatorVerificationCode(m.page, "A", shortA!)).toBe(codeOfA);
    expect(await mediatorVerificationCode(m.page, "B", shortB!)).toBe(codeOfB);

    // 2. A's handler sends the notification of intent — with the keyboard only: Tab to each
    //    control, type, Enter. Defaults: substance, named, stance none.
    const compose = a.page.getByLabel("What you want to signal");
    await tabTo(a.page, compose);
    await a.page.keyboard.type(SIGNAL);
    await seeText(
      a.page.getByRole("region", { name: "Send a signal to the mediator" }),
      "Summary: notification of intent, substance only, named.",
    );
    await tabTo(a.page, a.page.getByRole("button", { name: "Send signal" }));
    await a.page.keyboard.press("Enter");
    const signalAtA = await see(eventCard(a.page, /Notification of intent/, SIGNAL));
    await seeText(signalAtA, "— You");
    await seeText(signalAtA, `Stance: ${NON_BINDING}`);
    await seeText(signalAtA, "Disclosure: substance only · Attribution: named");
    await seeText(signalAtA, "Not conveyed yet.");
    await expect.poll(() => compose.inputValue()).toBe("");

    // 3. The mediator sees it, attributed to A's handler, and conveys it to B in substance.
    const signalAtM = await see(eventCard(colA, /Notification of intent/, SIGNAL));
    await seeText(signalAtM, "— A's handler");
    await seeText(signalAtM, `Stance: ${NON_BINDING}`);
    await seeText(signalAtM, "Disclosure: substance only · Attribution: named");
    const n = await seqOf(signalAtM);
    await signalAtM.getByRole("button", { name: `Convey #${n} from A`, exact: true }).click();
    const convey = signalAtM.getByRole("form", { name: `Convey #${n} from A`, exact: true });
    await see(convey);
    // Substance only: the sender did not allow verbatim, so it is not offered.
    expect(await convey.getByRole("radio").count()).toBe(1);
    expect(await convey.getByRole("radio", { name: "In substance (your wording)" }).isChecked()).toBe(true);
    await convey.getByLabel("Wording the recipients will see").fill(SUBSTANCE);
    const preview = convey.getByRole("group", { name: "Preview" });
    await seeText(preview, `B will see: from A: “${SUBSTANCE}”`);
    await seeText(
      preview,
      `A's receipt will say: Conveyed to B in substance, naming your party: “${SUBSTANCE}”`,
    );
    await convey.getByRole("button", { name: "Convey and post receipt" }).click();
    await seeText(signalAtM, `Conveyed to B in substance`);

    // A sees the receipt with the exact words used in its name.
    const receiptAtA = await see(eventCard(a.page, new RegExp(`Receipt for #${await seqOf(signalAtA)}`)));
    await seeText(receiptAtA, "Conveyed to B in substance, naming your party. Exact words used:");
    expect(await textOf(receiptAtA.locator("blockquote"))).toBe(SUBSTANCE);
    await seeText(signalAtA, `“${SUBSTANCE}”`);

    // B sees the conveyance from A, non-binding, in the mediator's words — never A's own.
    const fromA = await see(eventCard(b.page, /Conveyed notification of intent from A \(in substance\)/));
    expect(await textOf(fromA.locator("blockquote"))).toBe(SUBSTANCE);
    await seeText(fromA, "— The mediator");
    await seeText(fromA, `Stance: ${NON_BINDING}`);
    await seeText(fromA, "Not acknowledged yet");

    // 4. B's handler acknowledges, stance none, with its own words.
    await fromA.getByRole("button", { name: "Acknowledge…" }).click();
    await fromA.getByLabel("Your acknowledgement (optional words)").fill(ACK);
    for (const term of ["Commitment", "Coordination", "Obligation"])
      expect(await fromA.getByLabel(term, { exact: true }).inputValue()).toBe("none");
    // Substance only unless the handler says otherwise, as for a signal: B allows verbatim.
    expect(await fromA.getByLabel("Convey it in substance only").isChecked()).toBe(true);
    await fromA.getByLabel("Convey it verbatim (or in substance)").check();
    await fromA.getByRole("button", { name: "Send acknowledgement" }).click();
    const ackAtB = await see(eventCard(b.page, /Acknowledgement of #\d+/, ACK));
    await seeText(ackAtB, "— You");
    await seeText(ackAtB, `Stance: ${NON_BINDING}`);
    await seeText(fromA, `Acknowledged (#${await seqOf(ackAtB)})`);

    // The mediator conveys the acknowledgement back to A verbatim — keyboard only again.
    const ackAtM = await see(eventCard(colB, /Acknowledgement of #\d+/, ACK));
    await seeText(ackAtM, "— B's handler");
    await seeText(ackAtM, `Stance: ${NON_BINDING}`);
    const k = await seqOf(ackAtM);
    await tabTo(m.page, ackAtM.getByRole("button", { name: `Convey #${k} from B`, exact: true }));
    await m.page.keyboard.press("Enter");
    const back = ackAtM.getByRole("form", { name: `Convey #${k} from B`, exact: true });
    await see(back);
    expect(await back.getByRole("radio", { name: "Verbatim (the exact words)" }).isChecked()).toBe(true);
    // Verbatim holds the exact words and cannot be edited, not even from the keyboard.
    const exact = back.getByLabel("Exact words (cannot be edited)");
    expect(await exact.inputValue()).toBe(ACK);
    expect(await exact.isEditable()).toBe(false);
    await tabTo(m.page, exact);
    await m.page.keyboard.type(" And a ceasefire.");
    expect(await exact.inputValue()).toBe(ACK);
    const backPreview = back.getByRole("group", { name: "Preview" });
    await seeText(backPreview, `A will see: from B: “${ACK}”`);
    await seeText(backPreview, `B's receipt will say: Conveyed to A verbatim, naming your party: “${ACK}”`);
    await tabTo(m.page, back.getByRole("button", { name: "Convey and post receipt" }));
    await m.page.keyboard.press("Enter");
    await seeText(ackAtM, "Conveyed to A verbatim");

    // A sees B's acknowledgement, word for word; B sees the receipt for it.
    const ackAtA = await see(eventCard(a.page, /Conveyed acknowledgement from B \(verbatim\)/));
    expect(await textOf(ackAtA.locator("blockquote"))).toBe(ACK);
    await seeText(ackAtA, `Stance: ${NON_BINDING}`);
    const receiptAtB = await see(eventCard(b.page, new RegExp(`Receipt for #${await seqOf(ackAtB)}`)));
    await seeText(receiptAtB, "Conveyed to A verbatim, naming your party. Exact words used:");
    expect(await textOf(receiptAtB.locator("blockquote"))).toBe(ACK);

    // 5. Every screen verified its transcript; there is no understanding.
    expect(await m.page.getByText("Transcript verified", { exact: true }).count()).toBe(2);
    await seeText(colA, "Transcript verified");
    await seeText(colB, "Transcript verified");
    for (const p of [a.page, b.page]) {
      await see(p.getByText("Transcript verified", { exact: true }));
      expect(await p.getByRole("alert").count()).toBe(0);
    }
    expect(await m.page.getByRole("alert").count()).toBe(0);
    await seeText(
      m.page.getByText(/^Understandings:/),
      "0 reached — parallel notifications are not an understanding",
    );
    for (const s of [m, a, b]) await seeText(s.page.getByRole("status"), "Live");

    // Nothing on B's screens names A's handler or device (nor A's words), and vice versa: not in
    // the visible text and not in the HTML. The full ids are the relay's; the short ones the
    // mediator's console showed.
    const relay = RelayDatabase.of(server);
    const devA = relay.partyDevice(shortA!);
    const devB = relay.partyDevice(shortB!);
    expect(devA.caucusId).not.toBe(devB.caucusId);
    expect(await leaks(b.page, [devA.deviceId, shortA!, codeOfA, SIGNAL, devA.caucusId])).toEqual([]);
    expect(await leaks(a.page, [devB.deviceId, shortB!, codeOfB, devB.caucusId])).toEqual([]);
    // The same checks find what is there: the mediator's console shows both short ids.
    expect(await leaks(m.page, [shortA!, shortB!])).toEqual([shortA, shortB]);
    expect(await leaks(b.page, [codeOfB, SUBSTANCE, ACK])).toEqual([codeOfB, SUBSTANCE, ACK]);

    await screenshot(m.page, "mediator-console");
    await screenshot(a.page, "party-a");
    await screenshot(b.page, "party-b");
    for (const s of [m, a, b]) expect(unexpectedErrors(s)).toEqual([]);
  });

  test("on a narrow window the party view still shows the compose form and the transcript", async () => {
    const m = await open();
    const p = await open({ width: 420, height: 800 });
    await createMediator(m.page, server.url, "Narrow mediator");
    await createChannel(m.page, "a narrow window", ["North", "South"]);
    const code = await inviteHandler(m.page, "North");
    await joinAsHandler(p.page, server.url, code, { page: m.page, party: "North" });

    const compose = p.page.getByRole("region", { name: "Send a signal to the mediator" });
    const transcript = p.page.getByRole("region", { name: "Your caucus" });
    await see(compose);
    await see(transcript);
    const card = await sendSignal(p.page, `${SIGNAL} ${"(a long line that has to wrap) ".repeat(4)}`);
    await seeText(card, `Stance: ${NON_BINDING}`);
    await see(transcript.getByText("Transcript verified", { exact: true }));
    await see(p.page.getByRole("button", { name: "Send signal" }));
    for (const region of [compose, transcript]) {
      const box = await region.boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(420);
    }
    expect(await horizontalOverflow(p.page)).toBeLessThanOrEqual(0);
    await screenshot(p.page, "party-narrow");
    for (const s of [m, p]) expect(unexpectedErrors(s)).toEqual([]);
  });
});
