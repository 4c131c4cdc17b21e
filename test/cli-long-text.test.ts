import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cli, ensureCliBuilt } from "./helpers/cli.js";

/** Issue 12, item 1, in the CLI: the text limit is in the help, and long texts come from a file. */
describe("send: long texts", () => {
  let dir: string;
  beforeAll(() => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-long-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("help says the limit, that the device checks it, and offers --text-file", async () => {
    for (const command of ["send", "convey"]) {
      const r = await cli(dir, [command, "--help"]);
      expect(r.code).toBe(0);
      const help = r.stdout.replace(/\s+/g, " ");
      expect(help).toContain("at most 1 MiB (1048576 bytes) of UTF-8, checked on this device");
      expect(help).toContain("--text-file <path>");
    }
  });

  test("a text file that is not UTF-8, or not there, is refused before anything is opened or sent", async () => {
    const latin1 = join(dir, "latin1.txt");
    writeFileSync(latin1, Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const notUtf8 = await cli(dir, ["send", "--text-file", latin1, "--json"]);
    expect(notUtf8.code).toBe(1);
    expect(JSON.parse(notUtf8.stdout)).toEqual({
      error: "invalid_request",
      message: `${latin1} is not UTF-8 text; nothing was sent`,
    });
    const missing = await cli(dir, ["send", "--text-file", join(dir, "nope.txt"), "--json"]);
    expect(JSON.parse(missing.stdout).error).toBe("file_unreadable");
    const both = await cli(dir, ["send", "--text", "a", "--text-file", latin1]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("give --text or --text-file, not both");
  });
});
