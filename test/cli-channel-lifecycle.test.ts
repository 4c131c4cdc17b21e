import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cli, cliJson, ensureCliBuilt, serveInChild } from "./helpers/cli.js";

/**
 * `channel retention` and `channel close` as a mediator runs them (issue 10): a relay in its own
 * process, one process per command.
 */
describe("backchannel channel retention and close", () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const m = () => join(dir, "m");
  /** The mediator's note to `party` in the channel called `topic`. */
  const note = (topic: string, party: string, text: string) => [
    "note",
    "--channel",
    topic,
    "--to",
    party,
    "--text",
    text,
  ];

  beforeAll(async () => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), "backchannel-cli-lifecycle-"));
    ({ url, process: server } = await serveInChild(join(dir, "relay")));
    await cliJson(m(), ["mediator", "init", "--server", url, "--name", "Mediator"]);
  });
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("retention is set at creation, changed, lifted, and refused out of bounds in words", async () => {
    await cliJson(m(), [
      "channel",
      "create",
      "--topic",
      "Τρίτη — retained",
      "--party",
      "A",
      "--party",
      "B",
      "--retention",
      "30",
    ]);
    const seven = await cliJson<{ retentionDays?: number }>(m(), [
      "channel",
      "retention",
      "Τρίτη — retained",
      "--days",
      "7",
    ]);
    expect(seven.retentionDays).toBe(7);
    const human = await cli(m(), ["channel", "retention", "Τρίτη — retained", "--days", "3"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("3 day(s) after it was sent");
    const kept = await cliJson<{ retentionDays?: number }>(m(), [
      "channel",
      "retention",
      "Τρίτη — retained",
      "--keep",
    ]);
    expect(kept.retentionDays).toBeUndefined();

    for (const bad of [["--days", "0"], ["--days", "1.5"], ["--days", "7", "--keep"], []]) {
      const r = await cli(m(), ["channel", "retention", "Τρίτη — retained", ...bad]);
      expect(r.code, bad.join(" ")).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(
        /retention is a whole number of days|give either --days <n> or --keep/,
      );
    }
  });

  test("a closed channel says when it will be deleted and refuses what is sent after", async () => {
    await cliJson(m(), ["channel", "create", "--topic", "to close", "--party", "North", "--party", "South"]);
    const before = await cliJson<{ seq: number }>(m(), note("to close", "North", "Before the close."));
    expect(before.seq).toBeGreaterThan(0);

    const closed = await cliJson<{ closed?: { deleteAt: string } }>(m(), ["channel", "close", "to close"]);
    const deleteAt = Date.parse(closed.closed!.deleteAt);
    // The grace period: seven days from now, give or take the test's own run.
    expect(deleteAt - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(deleteAt - Date.now()).toBeLessThan(7.1 * 86_400_000);

    const after = await cli(m(), [...note("to close", "North", "After the close."), "--json"]);
    expect(after.code).not.toBe(0);
    expect(after.stdout + after.stderr).toContain("channel_closed");
    // The other channel goes on.
    const other = await cliJson<{ seq: number }>(m(), note("Τρίτη — retained", "A", "Still open."));
    expect(other.seq).toBeGreaterThan(0);
  });
});
