import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTestLimits } from "../src/server/limits/load-test-limits.js";
import { startServer } from "../src/server/start-server.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * The relay answers at most pageBytes of ciphertext per page of events, however many the client
 * asked for; devices page on until they reach the head. Here every page holds one event (the
 * one that crosses the budget is always included), so joining, syncing and verifying all work only
 * if the sdk follows each partial page.
 */
describe("a relay that pages by bytes", () => {
  let net: TestNetwork;
  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "backchannel-paging-"));
    const server = await startServer({
      port: 0,
      dataDir,
      logger: false,
      registration: "open",
      limits: { ...loadTestLimits, pageBytes: 1 },
    });
    net = await startNetwork({ parties: ["A", "B"], server });
  });
  afterAll(async () => {
    await net?.close();
    await net?.server.close();
  });

  it("devices sync and verify every event, one page each", async () => {
    const a = net.handlers.A![0]!;
    for (const text of ["one", "two", "three"]) await a.send({ text, disclosure: "verbatim" });
    await net.mediator.sync();
    const texts = net.mediator
      .entries(net.caucus.A!)
      .map((e) => e.payload?.body)
      .filter((b) => b?.type === "signal")
      .map((b) => (b as { text: string }).text);
    expect(texts).toEqual(["one", "two", "three"]);
    for (const d of [net.mediator, a])
      for (const r of await d.verify()) expect(r, JSON.stringify(r.problem)).toMatchObject({ ok: true });
  });
});
