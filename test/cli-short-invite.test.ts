import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cli, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/** Issue 11 in the CLI: `channel invite` prints the short code too, and `join --server` takes it. */
describe("CLI: the short invite code", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const home = (who: string) => join(dir, who);

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-short-"));
    ({ url, process: server } = await serveInChild(join(dir, "relay")));
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("channel invite prints both forms; join --server <short code> redeems it, once", async () => {
    await cliJson(home("m"), ["mediator", "init", "--server", url, "--name", "Mediator"]);
    await cliJson(home("m"), ["channel", "create", "--topic", "maps", "--party", "A", "--party", "B"]);
    const printed = await cli(home("m"), ["channel", "invite", "A"]);
    expect(printed.code, printed.stderr).toBe(0);
    const shortCode = /\b([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})\b/.exec(printed.stdout)?.[1];
    expect(shortCode, printed.stdout).toBeDefined();
    expect(printed.stdout).toMatch(/bc1-[A-Za-z0-9_-]+/);

    const without = await cli(home("A"), ["join", shortCode!]);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/short_code_server_required|relay.s address/);

    const joined = await cliJson<{ caucusId: string; joined: boolean }>(home("A"), [
      "join",
      "--server",
      url,
      shortCode!.toLowerCase(),
    ]);
    expect(joined.joined).toBe(false);
    const again = await cli(home("A2"), ["join", "--server", url, shortCode!]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/invite_invalid|no such short invite/);
  });
});
