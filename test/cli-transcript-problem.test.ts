import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { describeProblem, type TranscriptProblem } from "../src/protocol/index.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { cli, cliJson, ensureCliBuilt } from "./helpers/cli.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";
import { ServerDatabase } from "./helpers/server-database.js";

/**
 * A handler's CLI device facing a relay that dropped an event from its caucus. `inbox` and `verify`
 * both exit 3 and say what is wrong, for people and for scripts; with --json, stdout is exactly one
 * JSON document (a script parses it whole). The relay runs in this process; each command is its
 * own process, started asynchronously so the relay keeps answering.
 */
describe("the CLI on a broken transcript", () => {
  let net: TestNetwork;
  let home: string;
  let caucusA: string;
  let problem: TranscriptProblem;

  beforeAll(async () => {
    ensureCliBuilt();
    net = await startNetwork();
    home = mkdtempSync(join(tmpdir(), "backchannel-cli-problem-"));
    caucusA = net.caucus.A!;
    const sender = net.handlers.A![0]!;
    const { code } = await net.mediator.invite(caucusA, { confirm: false });
    await cliJson(home, ["join", code]);
    await net.mediator.sync(); // admits the CLI's device
    await sender.send({ text: "seen by the CLI's device" });
    const clean = await cliJson<{ caucuses: { verified: boolean }[] }>(home, ["inbox"]);
    expect(clean.caucuses).toMatchObject([{ verified: true }]);

    // Two events the CLI's device has not fetched yet; the relay drops the first.
    const dropped = await sender.send({ text: "dropped by the relay" });
    const after = await sender.send({ text: "sent after it" });
    new ServerDatabase(join(net.dataDir, sqliteFileName)).deleteEvent(caucusA, dropped.seq);
    problem = { kind: "gap", expectedSeq: dropped.seq, gotSeq: after.seq };
  }, 60_000); // three CLI processes, each deriving its keystore key
  afterAll(async () => {
    await net?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test("inbox exits 3 and shows the problem first", async () => {
    const human = await cli(home, ["inbox"]);
    expect(human.code).toBe(3);
    expect(human.stdout).toContain(`TRANSCRIPT PROBLEM — ${describeProblem(problem)}`);
    expect(human.stderr).toContain("[transcript_problem]");
  });

  test("inbox --json exits 3 with one document naming the problem", async () => {
    const inbox = await cli(home, ["inbox", "--json"]);
    expect(inbox.code).toBe(3);
    expect(JSON.parse(inbox.stdout)).toMatchObject({
      error: "transcript_problem",
      caucuses: [{ caucusId: caucusA, verified: false, problem, problemText: describeProblem(problem) }],
    });
  });

  test("verify --json exits 3 with one document: the reports and the error together", async () => {
    const verify = await cli(home, ["verify", "--json"]);
    expect(verify.code).toBe(3);
    expect(JSON.parse(verify.stdout)).toMatchObject({
      ok: false,
      error: "transcript_problem",
      caucuses: [{ caucusId: caucusA, ok: false, problem }],
    });
  });
});
