import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PassThrough } from "node:stream";
import { A_TEXT, B_ACK_TEXT, SUBSTANCE_TEXT, serverPlaintextLeaks } from "../src/cli/demo.js";
import { describeStance, noStance } from "../src/protocol/index.js";
import type { Party } from "../src/sdk/index.js";
import { storedStateOf } from "./helpers/internals.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * docs/design.md's acceptance story through the sdk: a real relay on a real port, one sdk client per
 * device — the mediator, A's handler and two of B's handlers (B's line has more than one person).
 */
describe("acceptance story", () => {
  let net: TestNetwork;
  let logs = "";
  let a: Party;
  let b1: Party;
  let b2: Party;

  beforeAll(async () => {
    const sink = new PassThrough();
    sink.on("data", (chunk: Buffer) => (logs += chunk.toString()));
    net = await startNetwork({ parties: ["A", "B"], logger: { destination: sink, level: "debug" } });
    a = net.handlers.A![0]!;
    b1 = net.handlers.B![0]!;
    b2 = await net.addHandler("B");
  });
  afterAll(async () => net?.close());

  test("1. each handler is admitted into its own party's caucus only, and learns the topic", async () => {
    await a.sync();
    expect(a.caucusId).toBe(net.caucus.A);
    expect(b1.caucusId).toBe(net.caucus.B);
    expect(b2.caucusId).toBe(net.caucus.B);
    expect(a.caucus(a.caucusId).topic).toBe("no new strikes");
    expect(a.caucus(a.caucusId).partyName).toBe("A");
    expect(net.mediator.handlers(net.caucus.A!).map((h) => h.deviceId)).toEqual([a.deviceId]);
    expect(
      net.mediator
        .handlers(net.caucus.B!)
        .map((h) => h.deviceId)
        .sort(),
    ).toEqual([b1.deviceId, b2.deviceId].sort());
    expect(net.mediator.handlers(net.caucus.A!)[0]!.verificationCode).toBe(a.verificationCode());
  });

  let signalId = "";
  test("2. A's handler sends a notification of intent: substance, attributed, stance none", async () => {
    const e = await a.send({
      text: A_TEXT,
      signalKind: "notification_of_intent",
      disclosure: "substance",
      attribution: "party",
    });
    signalId = e.eventId;
    expect(e.payload?.body).toMatchObject({
      type: "signal",
      text: A_TEXT,
      disclosure: "substance",
      attribution: "party",
      stance: noStance,
    });
  });

  test("3. the mediator conveys it to B in substance; A's receipt holds the exact words used", async () => {
    await net.mediator.sync();
    await expect(
      net.mediator.convey({ from: net.caucus.A!, eventId: signalId, mode: "verbatim" }),
    ).rejects.toMatchObject({
      code: "disclosure_substance_only",
    });
    const r = await net.mediator.convey({
      from: net.caucus.A!,
      eventId: signalId,
      mode: "substance",
      text: SUBSTANCE_TEXT,
    });
    expect(r.conveyances).toHaveLength(1);
    await a.sync();
    const receipts = a.entries(a.caucusId).filter((e) => e.payload?.body.type === "receipt");
    expect(receipts).toHaveLength(1);
    expect(receipts[0]!.payload!.body).toMatchObject({
      sourceEventId: signalId,
      mode: "substance",
      text: SUBSTANCE_TEXT,
      toParties: ["B"],
      attributedAs: "party",
    });
    for (const b of [b1, b2]) {
      await b.sync();
      const conv = b.entries(b.caucusId).filter((e) => e.payload?.body.type === "conveyance");
      expect(conv).toHaveLength(1);
      expect(conv[0]!.payload!.body).toMatchObject({
        text: SUBSTANCE_TEXT,
        fromParty: "A",
        mode: "substance",
        stance: noStance,
      });
    }
  });

  test("4. B's handler acknowledges with stance none; the mediator conveys it back to A", async () => {
    const conv = b1.entries(b1.caucusId).find((e) => e.payload?.body.type === "conveyance")!;
    // Substance only unless B says otherwise (as for a signal): B allows its words verbatim.
    const ack = await b1.acknowledge(conv.eventId, { text: B_ACK_TEXT, disclosure: "verbatim" });
    expect(ack.payload?.body).toMatchObject({ type: "acknowledgement", stance: noStance, text: B_ACK_TEXT });
    await b2.sync();
    // B's other handler sees the acknowledgement made on B's line (same caucus).
    expect(b2.entries(b2.caucusId).some((e) => e.eventId === ack.eventId)).toBe(true);
    await net.mediator.sync();
    await net.mediator.convey({ from: net.caucus.B!, eventId: ack.eventId, mode: "verbatim" });
    await a.sync();
    const back = a.entries(a.caucusId).filter((e) => e.payload?.body.type === "conveyance");
    expect(back).toHaveLength(1);
    expect(back[0]!.payload!.body).toMatchObject({
      source: "acknowledgement",
      text: B_ACK_TEXT,
      fromParty: "B",
      stance: noStance,
    });
    expect(describeStance(noStance)).toContain("no commitment · no coordination · no obligation");
    await b1.sync();
    expect(b1.entries(b1.caucusId).filter((e) => e.payload?.body.type === "receipt")).toHaveLength(1);
  });

  test("5. every device verifies; no cross-party identifiers; no plaintext on the server; no understanding", async () => {
    for (const d of [net.mediator, a, b1, b2]) {
      const reports = await d.verify();
      expect(reports.length).toBeGreaterThan(0);
      for (const r of reports) expect(r, JSON.stringify(r.problem)).toMatchObject({ ok: true });
    }
    const stateOf = (p: Party) => JSON.stringify(storedStateOf(p));
    const aIds = [a.deviceId, a.identityPublicKey, net.caucus.A!];
    const bIds = [b1.deviceId, b2.deviceId, b1.identityPublicKey, b2.identityPublicKey, net.caucus.B!];
    for (const b of [b1, b2]) for (const id of aIds) expect(stateOf(b)).not.toContain(id);
    for (const id of bIds) expect(stateOf(a)).not.toContain(id);
    // B only ever saw the mediator's paraphrase.
    expect(stateOf(b1)).not.toContain(A_TEXT);
    const leaks = serverPlaintextLeaks(net.dataDir, [
      A_TEXT,
      SUBSTANCE_TEXT,
      B_ACK_TEXT,
      "escalat",
      "ceasefire",
      "no new strikes",
    ]);
    expect(leaks).toEqual([]);
    expect(logs.length).toBeGreaterThan(0);
    for (const w of [A_TEXT, SUBSTANCE_TEXT, B_ACK_TEXT, "escalat", "no new strikes"])
      expect(logs).not.toContain(w);
    expect(net.mediator.understandings(net.channel.channelId)).toEqual([]);
  });
});
