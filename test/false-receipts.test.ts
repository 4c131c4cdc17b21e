/**
 * Issue 7, item 2: a receipt names only the parties whose conveyance is in the mediator's verified
 * transcript of their caucus. A hostile or failing relay (refusing, or cutting the line) must never
 * make a party believe it was conveyed somewhere it was not; a partial conveyance is shown to the
 * mediator, resumed when the relay answers again, and receipted then.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Party, TranscriptEntry } from "../src/sdk/index.js";
import { on, type Rule } from "./helpers/hostile-relay.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

describe("receipts name only conveyances that landed", () => {
  let net: TestNetwork;
  let north: Party;

  beforeAll(async () => {
    net = await startNetwork({ parties: ["North", "South", "East"], hostile: true });
    north = net.handlers.North![0]!;
  });
  afterAll(async () => net?.close());

  const receiptsAtNorth = async (): Promise<string[][]> => {
    await north.sync();
    return north
      .entries(north.caucusId)
      .flatMap((e: TranscriptEntry) =>
        e.payload?.body.type === "receipt" ? [e.payload.body.toParties] : [],
      );
  };
  /** How many conveyances with these words South's handler holds. */
  const conveyedToSouth = async (text: string): Promise<number> => {
    const south = net.handlers.South![0]!;
    await south.sync();
    return south
      .entries(south.caucusId)
      .filter((e) => e.payload?.body.type === "conveyance" && e.payload.body.text === text).length;
  };
  const postsInto = (party: string): RegExp => new RegExp(`^/v1/caucuses/${net.caucus[party]}/events$`);
  const refuse = (party: string): Rule =>
    on("POST", postsInto(party), () => ({
      respond: { status: 503, body: { error: "internal", message: "the relay is having a bad day" } },
    }));

  test("a target the relay refuses is left out of the receipt, shown as undelivered, then resumed", async () => {
    const before = (await receiptsAtNorth()).length;
    const signal = await north.send({
      text: "Aucune nouvelle frappe de notre part.",
      disclosure: "verbatim",
    });
    await net.mediator.sync();
    const relay = net.relayOf(net.mediator);
    const refusing = relay.rule(refuse("South"));

    const result = await net.mediator.convey({
      from: net.caucus.North!,
      eventId: signal.eventId,
      mode: "verbatim",
    });
    expect(result.conveyances).toHaveLength(1);
    expect(result.undelivered.map((u) => u.partyName)).toEqual(["South"]);
    expect(result.receipt?.payload?.body).toMatchObject({ type: "receipt", toParties: ["East"] });

    // The mediator sees the conveyance as incomplete; a sync while the relay still refuses adds
    // no receipt naming South.
    expect(net.mediator.getSnapshot().pendingConveyances.map((p) => p.undelivered)).toEqual([["South"]]);
    await net.mediator.sync();
    expect((await receiptsAtNorth()).slice(before)).toEqual([["East"]]);

    // The relay answers again: the next sync delivers it to South, and only then says so to North.
    refusing.remove();
    await net.mediator.sync();
    expect(net.mediator.getSnapshot().pendingConveyances).toEqual([]);
    expect((await receiptsAtNorth()).slice(before)).toEqual([["East"], ["South"]]);
    expect(await conveyedToSouth("Aucune nouvelle frappe de notre part.")).toBe(1);
  });

  test("when no target can be reached, no receipt is posted at all", async () => {
    const before = (await receiptsAtNorth()).length;
    const signal = await north.send({ text: "Nothing new to report.", disclosure: "verbatim" });
    await net.mediator.sync();
    const relay = net.relayOf(net.mediator);
    const rules = [relay.rule(refuse("South")), relay.rule(refuse("East"))];
    const result = await net.mediator.convey({
      from: net.caucus.North!,
      eventId: signal.eventId,
      mode: "verbatim",
    });
    expect(result.receipt).toBeUndefined();
    expect(result.undelivered.map((u) => u.partyName).sort()).toEqual(["East", "South"]);
    await net.mediator.sync();
    expect((await receiptsAtNorth()).slice(before)).toEqual([]);
    for (const r of rules) r.remove();
    await net.mediator.sync();
    expect((await receiptsAtNorth()).slice(before)).toEqual([["South", "East"]]);
  });

  test("a conveyance that landed although the answer was lost counts as delivered, once", async () => {
    const before = (await receiptsAtNorth()).length;
    const signal = await north.send({ text: "We note the quiet of the last days.", disclosure: "verbatim" });
    await net.mediator.sync();
    const relay = net.relayOf(net.mediator);
    let cut = 0;
    const cutting = relay.rule(
      on("POST", postsInto("South"), () => (cut++ === 0 ? { dropAnswer: true } : undefined)),
    );
    const result = await net.mediator.convey({
      from: net.caucus.North!,
      eventId: signal.eventId,
      mode: "verbatim",
    });
    cutting.remove();
    expect(cut).toBeGreaterThan(0);
    expect(result.undelivered).toEqual([]);
    expect((await receiptsAtNorth()).slice(before)).toEqual([["South", "East"]]);
    expect(await conveyedToSouth("We note the quiet of the last days.")).toBe(1);
  });
});
