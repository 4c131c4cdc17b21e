import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  codeIn,
  createChannel,
  createMediator,
  eventCard,
  inviteHandler,
  joinAsHandler,
  mediatorVerificationCode,
  RelayDatabase,
  see,
  seeText,
  seqOf,
  textOf,
  unexpectedErrors,
} from "./console-helpers.js";
import { launchBrowser, openContext, repoRoot, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * The browser sdk and the Node sdk in one caucus: the mediator in the console, A's handler on the
 * real CLI (its own process per command, its own encrypted keystore), B's handler in a browser.
 */
const bin = join(repoRoot, "bin", "backchannel.js");
const cliMain = join(repoRoot, "dist", "cli", "main.js");
const PASSPHRASE = "interop passphrase, not a secret";
const SIGNAL = "We are not interested in escalating at this stage.";
const SUBSTANCE = "A does not seek further escalation for now.";
const ACK = "Received. No commitment, no coordination, no ceasefire.";
const NOTED = "Noted; nothing more.";

interface Entry {
  seq: number;
  eventId: string;
  senderRole: "mediator" | "party";
  payload?: { body: Record<string, unknown> & { type: string } };
}
interface Inbox {
  caucuses: { partyName: string; verified: boolean; entries: Entry[] }[];
}

/** dist/ is compiled by `tsc -p tsconfig.build.json` (the CLI part of `npm run build`). */
function newestTs(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((max, d) => {
    const p = join(dir, d.name);
    return Math.max(max, d.isDirectory() ? newestTs(p) : d.name.endsWith(".ts") ? statSync(p).mtimeMs : 0);
  }, 0);
}

async function ensureCliBuilt(): Promise<void> {
  const sources = ["cli", "sdk", "crypto", "protocol"].map((d) => join(repoRoot, "src", d));
  const fresh = () => existsSync(cliMain) && sources.every((d) => newestTs(d) <= statSync(cliMain).mtimeMs);
  if (fresh()) return;
  // Not `npm run build`: its `vite build` would empty dist/web under the other files' servers.
  const tsc = [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"];
  await promisify(execFile)(process.execPath, tsc, { cwd: repoRoot }).catch(
    (e: Error & { stdout?: string }) => {
      // tsc still emits when some unrelated file being edited elsewhere fails to type-check (that
      // is `npm run typecheck`'s to report); only a CLI that was not built stops this test.
      if (!fresh())
        throw new Error(`tsc -p tsconfig.build.json did not build the CLI:\n${e.stdout ?? e.message}`);
    },
  );
}

describe("browser and CLI in one channel", () => {
  let server: ConsoleServer;
  let browser: Browser;
  let home: string;

  /** Runs `backchannel <args> --json` as A's handler and parses its output. */
  function cli<T>(...args: string[]): Promise<T> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...args, "--json"], {
        env: { ...process.env, NO_COLOR: "1", BACKCHANNEL_HOME: home, BACKCHANNEL_PASSPHRASE: PASSPHRASE },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => {
        if (code !== 0) reject(new Error(`backchannel ${args.join(" ")} exited ${code}: ${out}${err}`));
        else resolve(JSON.parse(out) as T);
      });
    });
  }

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "backchannel-interop-"));
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser(), ensureCliBuilt()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test("the CLI handler's signal is conveyed in the console to a browser handler, and the reply back", async () => {
    const m = await openContext(browser);
    const b = await openContext(browser);
    await createMediator(m.page, server.url, "Browser mediator");
    await createChannel(m.page, "no new strikes", ["A", "B"]);
    const colA = caucusColumn(m.page, "A");
    const colB = caucusColumn(m.page, "B");

    // A's handler joins on the CLI; the console shows it waiting with its code, and admits it.
    const codeA = await inviteHandler(m.page, "A");
    const joined = await cli<{ deviceId: string; joined: boolean; verificationCode: string }>("join", codeA);
    expect(joined.joined).toBe(false);
    const short = joined.deviceId.slice(0, 8);
    const waiting = m.page.getByRole("group", { name: "Waiting for admission to A", exact: true });
    const shown = codeIn(waiting, `Verification code of waiting A device ${short}`);
    await see(shown);
    expect((await shown.innerText()).trim()).toBe(joined.verificationCode);
    await waiting.getByRole("button", { name: `Codes match: admit device ${short}` }).click();
    await seeText(colA, "Handlers (1)");
    await see(colA.getByText(`Device ${short}`, { exact: true }));
    expect(await mediatorVerificationCode(m.page, "A", short)).toBe(joined.verificationCode);

    await joinAsHandler(b.page, server.url, await inviteHandler(m.page, "B"), { page: m.page, party: "B" });

    // The CLI's signal shows up in the console, with its stance and disclosure.
    const sent = await cli<Entry>("send", "--text", SIGNAL, "--disclosure", "substance");
    const signal = await see(eventCard(colA, /Notification of intent/, SIGNAL));
    expect(await seqOf(signal)).toBe(sent.seq);
    await seeText(signal, "— A's handler");
    await seeText(signal, "Stance: no commitment · no coordination · no obligation");
    await seeText(signal, "Disclosure: substance only · Attribution: named");

    // The mediator conveys it to the browser handler in substance…
    await signal.getByRole("button", { name: `Convey #${sent.seq} from A` }).click();
    const form = signal.getByRole("form", { name: `Convey #${sent.seq} from A` });
    await form.getByLabel("Wording the recipients will see").fill(SUBSTANCE);
    await form.getByRole("button", { name: "Convey and post receipt" }).click();
    const atB = await see(eventCard(b.page, /Conveyed notification of intent from A \(in substance\)/));
    expect(await textOf(atB.locator("blockquote"))).toBe(SUBSTANCE);

    // …who acknowledges in the browser; the mediator conveys that back verbatim.
    await atB.getByRole("button", { name: "Acknowledge…" }).click();
    await atB.getByLabel("Your acknowledgement (optional words)").fill(ACK);
    // Substance only unless the handler says otherwise (as for a signal): B allows verbatim.
    await atB.getByLabel("Convey it verbatim (or in substance)").check();
    await atB.getByRole("button", { name: "Send acknowledgement" }).click();
    const ack = await see(eventCard(colB, /Acknowledgement of #\d+/, ACK));
    const k = await seqOf(ack);
    await ack.getByRole("button", { name: `Convey #${k} from B` }).click();
    const back = ack.getByRole("form", { name: `Convey #${k} from B` });
    expect(await back.getByLabel("Exact words (cannot be edited)").inputValue()).toBe(ACK);
    await back.getByRole("button", { name: "Convey and post receipt" }).click();
    await seeText(ack, "Conveyed to A verbatim");

    // The CLI's inbox holds the receipt (the exact words used in A's name) and B's acknowledgement.
    let inbox: Inbox | undefined;
    await expect
      .poll(
        async () => {
          inbox = await cli<Inbox>("inbox");
          return inbox.caucuses[0]?.entries.map((e) => e.payload?.body.type);
        },
        { timeout: 20_000, interval: 250 },
      )
      .toEqual(expect.arrayContaining(["signal", "receipt", "conveyance"]));
    const caucus = inbox!.caucuses[0]!;
    expect(inbox!.caucuses).toHaveLength(1);
    expect(caucus).toMatchObject({ partyName: "A", verified: true });
    const bodies = caucus.entries.map((e) => e.payload?.body);
    expect(bodies).toContainEqual(
      expect.objectContaining({ type: "receipt", mode: "substance", text: SUBSTANCE, toParties: ["B"] }),
    );
    const conveyed = caucus.entries.find((e) => e.payload?.body.type === "conveyance")!;
    expect(conveyed.payload!.body).toMatchObject({
      source: "acknowledgement",
      mode: "verbatim",
      text: ACK,
      fromParty: "B",
    });
    expect(conveyed.payload!.body.stance).toMatchObject({
      commitment: "none",
      coordination: "none",
      obligation: "none",
    });
    // Nothing in A's data names B's handler or device (the relay knows its id; A must not).
    const bDevice = RelayDatabase.of(server)
      .partyDevices()
      .find((d) => d.deviceId !== joined.deviceId)!.deviceId;
    expect(JSON.stringify(inbox)).not.toContain(bDevice);
    expect(JSON.stringify(inbox)).not.toContain(bDevice.slice(0, 8));
    expect(caucus.entries.filter((e) => e.senderRole === "party").map((e) => e.seq)).toEqual([sent.seq]);

    // The CLI acknowledges the conveyance; the console shows it in A's caucus.
    await cli("ack", String(conveyed.seq), "--text", NOTED);
    const noted = await see(eventCard(colA, new RegExp(`Acknowledgement of #${conveyed.seq}`), NOTED));
    await seeText(noted, "— A's handler");
    await see(eventCard(colA, /Conveyed acknowledgement from B/).getByText(/^Acknowledged \(#\d+\)$/));

    const verified = await cli<{ ok: boolean; caucuses: { ok: boolean }[] }>("verify");
    expect(verified).toMatchObject({ ok: true, caucuses: [{ ok: true }] });
    for (const p of [m.page, b.page]) {
      expect(await p.getByRole("alert").count()).toBe(0);
      await see(p.getByText("Transcript verified", { exact: true }));
    }
    for (const s of [m, b]) expect(unexpectedErrors(s)).toEqual([]);
  });
});
