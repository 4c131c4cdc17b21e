/**
 * What the console renders: immutable snapshots that change identity exactly when their content
 * changed (React's useSyncExternalStore re-renders on identity), so an unchanged caucus is never
 * recomputed — no MLS restore, no 5,200-hash verification code — while rendering.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Party } from "../src/sdk/index.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

describe("device snapshots", () => {
  let net: TestNetwork;
  let a: Party;
  let b: Party;

  beforeAll(async () => {
    net = await startNetwork({ parties: ["Aleph", "Bet", "Gimel"] });
    a = net.handlers.Aleph![0]!;
    b = net.handlers.Bet![0]!;
    await net.mediator.sync();
  });
  afterAll(async () => net?.close());

  test("the same object while nothing changes, even across a sync that brings nothing", async () => {
    const before = net.mediator.getSnapshot();
    expect(net.mediator.getSnapshot()).toBe(before);
    await net.mediator.sync();
    expect(net.mediator.getSnapshot()).toBe(before);
    expect(before.channels[0]!.caucuses.map((c) => c.partyName)).toEqual(["Aleph", "Bet", "Gimel"]);
  });

  test("frozen: a renderer cannot change what the sdk verified", () => {
    const s = net.mediator.getSnapshot();
    const caucus = s.channels[0]!.caucuses[0]!;
    expect(Object.isFrozen(caucus)).toBe(true);
    expect(Object.isFrozen(caucus.entries)).toBe(true);
    expect(Object.isFrozen(caucus.handlers)).toBe(true);
    expect(() => (caucus.entries as unknown[]).push({})).toThrow();
  });

  test("a new signal changes its caucus's snapshot, and only that one; subscribers are told", async () => {
    let told = 0;
    const unsubscribe = net.mediator.subscribe(() => told++);
    const before = net.mediator.getSnapshot();
    const [alephBefore, betBefore, gimelBefore] = before.channels[0]!.caucuses;
    const handlersBefore = alephBefore!.handlers;

    await a.send({ text: "Nous ne cherchons pas l'escalade. 🕊️" });
    await net.mediator.sync();
    unsubscribe();

    const after = net.mediator.getSnapshot();
    expect(told).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    const [alephAfter, betAfter, gimelAfter] = after.channels[0]!.caucuses;
    expect(alephAfter).not.toBe(alephBefore);
    expect(alephAfter!.entries.at(-1)?.payload?.body).toMatchObject({ type: "signal" });
    expect(alephAfter!.views.at(-1)?.conveyability).toMatchObject({ conveyable: true, modes: ["substance"] });
    // The other caucuses are the very same objects: nothing about them was recomputed.
    expect(betAfter).toBe(betBefore);
    expect(gimelAfter).toBe(gimelBefore);
    // The roster did not change, so neither did its verification codes.
    expect(alephAfter!.handlers).toEqual(handlersBefore);
    expect(alephAfter!.handlers[0]!.verificationCode).toMatch(/^(\d{5} ){3}\d{5}\n/);
  });

  test("a party's snapshot: its caucus and its verification code, nothing of the others", async () => {
    await b.sync();
    const s = b.getSnapshot();
    expect(s.role).toBe("party");
    expect(s.joined).toBe(true);
    expect(s.caucus?.partyName).toBe("Bet");
    expect(s.caucuses).toHaveLength(1);
    expect(s.verificationCode).toBe(b.verificationCode());
    expect(JSON.stringify(s)).not.toContain("Aleph");
    expect(b.getSnapshot()).toBe(s);
  });
});
