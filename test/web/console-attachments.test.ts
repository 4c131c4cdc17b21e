import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  caucusColumn,
  createChannel,
  createMediator,
  eventCard,
  inviteHandler,
  joinAsHandler,
  see,
  seeText,
  seqOf,
  unexpectedErrors,
  axeViolations,
} from "./console-helpers.js";
import { launchBrowser, openContext, startConsoleServer, type ConsoleServer } from "./harness.js";

/**
 * Issue 12, item 2 in the console: A's handler attaches files to a signal, the mediator sees and
 * previews them and conveys them verbatim to B, B downloads them byte-exact, and A's receipt lists
 * exactly the files that went. One relay, one browser, a context per person.
 */
const MiB = 1024 * 1024;
const SIGNAL = "The map and the draft are attached.";
// A 1×1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
  "base64",
);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** 3 MiB and a bit of bytes that do not repeat (so a chunk out of place changes the hash). */
function binary(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let at = 0; at + 4 <= size; at += 4)
    b.writeUInt32BE((Math.imul(at, 2654435761) ^ 0x5bd1e995) >>> 0, at);
  return b;
}

/** axe-core's rules broken (moderate impact or worse) in the light and the dark scheme. */
async function axeIn(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    found.push(...(await axeViolations(page)).map((v) => `${colorScheme}: ${v}`));
  }
  return found;
}

/** Every blob file the relay stores, with its size. */
function blobFiles(dataDir: string): string[] {
  return readdirSync(join(dataDir, "blobs"), { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => join(f.parentPath, f.name));
}

describe("attachments in the web console", () => {
  let server: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("attach, preview, convey verbatim with the files, download byte-exact, receipt lists them; in substance the mediator attaches its own; a blob that does not verify is refused in words", async () => {
    const m = await openContext(browser);
    const a = await openContext(browser);
    const b = await openContext(browser);
    const big = binary(3 * MiB + 1234);

    await createMediator(m.page, server.url);
    await createChannel(m.page, "files", ["A", "B"]);
    await joinAsHandler(a.page, server.url, await inviteHandler(m.page, "A"), { page: m.page, party: "A" });
    await joinAsHandler(b.page, server.url, await inviteHandler(m.page, "B"), { page: m.page, party: "B" });

    // A chooses three files, sees each with its size, takes one off again, and sends.
    const picker = a.page.getByLabel("Attach files (optional)");
    await picker.setInputFiles([
      { name: "draft.bin", mimeType: "application/octet-stream", buffer: big },
      { name: "map.png", mimeType: "image/png", buffer: PNG },
    ]);
    await picker.setInputFiles([
      { name: "wrong.txt", mimeType: "text/plain", buffer: Buffer.from("not this") },
    ]);
    const chosen = a.page.getByRole("list", { name: "Files to attach" });
    await seeText(chosen, "draft.bin 3.0 MiB");
    await seeText(chosen, `map.png ${PNG.length} B`);
    expect(await axeIn(a.page)).toEqual([]);
    await a.page.getByRole("button", { name: "Remove wrong.txt" }).click();
    await expect.poll(() => chosen.getByRole("listitem").count()).toBe(2);
    await a.page.getByLabel("What you want to signal").fill(SIGNAL);
    await a.page.getByLabel("Convey it verbatim (or in substance)").check();
    // The upload shows its progress while it goes (a MutationObserver sees it, however short).
    await a.page.evaluate(() => {
      const seen = document.documentElement.dataset;
      new MutationObserver(() => {
        const bar = document.querySelector("progress");
        if (bar?.getAttribute("aria-valuetext")) seen.sawProgress = bar.getAttribute("aria-valuetext")!;
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await a.page.getByRole("button", { name: "Send signal" }).click();
    const atA = await see(eventCard(a.page, /Notification of intent/, SIGNAL));
    await see(atA.getByRole("button", { name: "Download draft.bin" }));
    await expect.poll(() => a.page.getByRole("list", { name: "Files to attach" }).count()).toBe(0);
    expect(await a.page.evaluate(() => document.documentElement.dataset.sawProgress)).toMatch(/^\d+%$/);

    // The mediator sees the files and previews the image, decrypted in the browser.
    const colA = caucusColumn(m.page, "A");
    const atM = await see(eventCard(colA, /Notification of intent/, SIGNAL));
    const files = atM.getByRole("list", { name: "Attached files" });
    await seeText(files, "draft.bin 3.0 MiB · application/octet-stream");
    await seeText(files, "map.png");
    await atM.getByRole("button", { name: "Preview map.png" }).click();
    const img = await see(atM.getByRole("img", { name: "Preview of map.png" }));
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(1);

    expect(await axeIn(m.page)).toEqual([]);

    // Verbatim carries the files by default, and the preview says which go where.
    const n = await seqOf(atM);
    await atM.getByRole("button", { name: `Convey #${n} from A`, exact: true }).click();
    const convey = atM.getByRole("form", { name: `Convey #${n} from A`, exact: true });
    await convey.getByLabel("Verbatim (the exact words)").check();
    expect(await convey.getByLabel(/^Pass on A's 2 files as sent/).isChecked()).toBe(true);
    const preview = convey.getByRole("group", { name: "Preview" });
    await seeText(preview, "Files B will get: draft.bin (3.0 MiB), map.png");
    await seeText(preview, "and list the files: draft.bin (3.0 MiB), map.png");
    await convey.getByRole("button", { name: "Convey and post receipt" }).click();

    // B downloads the file: the very bytes A attached.
    const atB = await see(eventCard(b.page, /Conveyed/, SIGNAL), 60_000);
    const [download] = await Promise.all([
      b.page.waitForEvent("download", { timeout: 60_000 }),
      atB.getByRole("button", { name: "Download draft.bin" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("draft.bin");
    expect(sha256(readFileSync(await download.path()))).toBe(sha256(big));

    // A's receipt lists exactly the files B got: name, size, the start of the SHA-256.
    const receipt = await see(eventCard(a.page, /Receipt for/), 60_000);
    const listed = receipt.getByRole("list", { name: "Files conveyed" });
    await seeText(listed, `draft.bin 3.0 MiB · SHA-256 ${sha256(big).slice(0, 12)}`);
    await seeText(listed, `map.png ${PNG.length} B · SHA-256 ${sha256(PNG).slice(0, 12)}`);
    await seeText(atA.getByRole("list", { name: "Receipts" }), "draft.bin");
    expect(await axeIn(a.page)).toEqual([]);

    // In substance the sender's files stay behind unless asked for; the mediator attaches its own.
    const NOTE = Buffer.from("The mediator's own summary, not A's file.\n");
    await atM.getByRole("button", { name: `Convey #${n} from A`, exact: true }).click();
    await convey.getByLabel("In substance (your wording)").check();
    await convey.getByLabel("Wording the recipients will see").fill("A shared a map and a draft.");
    expect(await convey.getByLabel(/^Pass on A's 2 files as sent/).isChecked()).toBe(false);
    await convey
      .getByLabel("Attach your own files (optional)")
      .setInputFiles([{ name: "summary.txt", mimeType: "text/plain", buffer: NOTE }]);
    await seeText(preview, `Files B will get: summary.txt (${NOTE.length} B)`);
    await convey.getByLabel("Yes, convey it again to B").check();
    await convey.getByRole("button", { name: "Convey and post receipt" }).click();
    const substanceAtB = await see(eventCard(b.page, /Conveyed/, "A shared a map and a draft."), 60_000);
    await expect.poll(() => substanceAtB.getByRole("button", { name: /^Download / }).count()).toBe(1);
    const [own] = await Promise.all([
      b.page.waitForEvent("download", { timeout: 60_000 }),
      substanceAtB.getByRole("button", { name: "Download summary.txt" }).click(),
    ]);
    expect(readFileSync(await own.path()).equals(NOTE)).toBe(true);

    // A blob altered on the relay does not verify: nothing is saved, and the card says why.
    for (const path of blobFiles(server.dataDir).filter((p) => statSync(p).size > MiB)) {
      const bytes = readFileSync(path);
      bytes[bytes.length >> 1]! ^= 0xff;
      writeFileSync(path, bytes);
    }
    let downloads = 0;
    b.page.on("download", () => downloads++);
    await atB.getByRole("button", { name: "Download draft.bin" }).click();
    await seeText(atB.getByRole("alert"), "An attachment did not verify");
    expect(downloads).toBe(0);

    for (const s of [m, a, b]) expect(unexpectedErrors(s)).toEqual([]);
  }, 180_000);
});
