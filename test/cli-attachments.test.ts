import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cli, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * Issue 12 in the CLI: a long text from a file and an attached file go from A's handler through
 * the mediator to B's, who fetches the file and gets the same bytes; progress on stderr, results
 * in --json.
 */
describe("CLI: long texts and attachments", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const home = (who: string) => join(dir, who);
  const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-attach-"));
    ({ url, process: server } = await serveInChild(join(dir, "relay")));
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("send --text-file --attach, convey, fetch --out: byte-exact, with progress on stderr", async () => {
    await cliJson(home("m"), ["mediator", "init", "--server", url, "--name", "Mediator"]);
    await cliJson(home("m"), ["channel", "create", "--topic", "maps", "--party", "A", "--party", "B"]);
    for (const p of ["A", "B"]) {
      const { code } = await cliJson<{ code: string }>(home("m"), ["channel", "invite", p, "--no-confirm"]);
      await cliJson(home(p), ["join", code]);
    }
    await cliJson(home("m"), ["inbox"]);

    const textFile = join(dir, "draft.txt");
    const text = Array.from({ length: 4000 }, (_, i) => `${i}. טיוטה · پیش‌نویس · проект 🕊️`).join("\n");
    writeFileSync(textFile, text);
    const file = join(dir, "map.bin");
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, bytes);

    const sent = await cli(home("A"), [
      "send",
      "--text-file",
      textFile,
      "--attach",
      file,
      "--disclosure",
      "verbatim",
      "--json",
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stderr).toContain("Uploading map.bin: 100%");
    const signal = JSON.parse(sent.stdout) as {
      seq: number;
      payload: { body: { text: string; attachments: { sha256: string }[] } };
    };
    expect(sha256(signal.payload.body.text)).toBe(sha256(text));
    expect(signal.payload.body.attachments[0]!.sha256).toBe(sha256(bytes));

    const conveyed = await cliJson<{
      conveyances: { seq: number }[];
      receipt: { payload: { body: unknown } };
    }>(home("m"), ["convey", "--from", "A", "--event", String(signal.seq), "--mode", "verbatim"]);
    expect(conveyed.receipt.payload.body).toMatchObject({
      attachments: [{ name: "map.bin", size: bytes.length, sha256: sha256(bytes) }],
    });

    const out = join(dir, "inbox-B");
    mkdirSync(out);
    const fetched = await cli(home("B"), [
      "fetch",
      String(conveyed.conveyances[0]!.seq),
      "--out",
      out,
      "--json",
    ]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stderr).toContain("Downloading map.bin: 100%");
    const { files } = JSON.parse(fetched.stdout) as { files: { path: string; sha256: string }[] };
    expect(files.map((f) => f.path)).toEqual([join(out, "map.bin")]);
    expect(sha256(readFileSync(files[0]!.path))).toBe(sha256(bytes));

    // Over the limit: refused on the device, saying so.
    writeFileSync(textFile, "x".repeat(1024 * 1024 + 1));
    const tooLong = await cli(home("A"), ["send", "--text-file", textFile, "--json"]);
    expect(tooLong.code).toBe(1);
    const refusal = JSON.parse(tooLong.stdout) as { error: string; message: string };
    expect(refusal.error).toBe("invalid_request");
    expect(refusal.message).toContain(
      "at most 1 MiB (1048576 bytes) of UTF-8; checked on this device, nothing was sent",
    );
  });
});
