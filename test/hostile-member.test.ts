/**
 * Issue 7, item 5: one member must not be able to stop a caucus. A member's garbage, its
 * unauthorised bodies (a party posting a conveyance) and a commit posted as a message are
 * attributed to their sender, skipped and shown as a warning; the caucus goes on for everyone, and
 * the mediator can remove the offending device.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { noStance, toBase64Url, type EventBody } from "../src/protocol/index.js";
import type { Party } from "../src/sdk/index.js";
import { coreOf, sendEvent } from "./helpers/internals.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";
import { ServerDatabase } from "./helpers/server-database.js";
import { join } from "node:path";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";

describe("a hostile member cannot stop a caucus", () => {
  let net: TestNetwork;
  let rogue: Party;
  let loyal: Party;
  let caucusId: string;

  beforeAll(async () => {
    net = await startNetwork({ parties: ["North", "South"], handlersPerParty: 2 });
    [rogue, loyal] = net.handlers.North as [Party, Party];
    caucusId = net.caucus.North!;
  });
  afterAll(async () => net?.close());

  /** The rogue device posts bytes of its choosing as an application message in the current epoch. */
  const postRaw = async (ciphertext: Uint8Array) => {
    const core = coreOf(rogue);
    await core.session.withRetry(() =>
      core.api().call("appendEvent", {
        params: { caucusId },
        body: {
          eventId: crypto.randomUUID(),
          kind: "application",
          epoch: core.caucus(caucusId).group()!.epoch,
          ciphertext: toBase64Url(ciphertext),
        },
      }),
    );
  };

  const expectCaucusGoesOn = async (reason: string) => {
    await net.mediator.sync();
    const view = net.mediator.caucus(caucusId);
    expect(view.problem).toBeUndefined();
    const last = view.entries.at(-1)!;
    expect(last).toMatchObject({ senderDeviceId: rogue.deviceId, skipped: { reason } });
    expect(last.payload).toBeUndefined();
    // Everyone still sends and reads: the loyal handler, the mediator.
    const s = await loyal.send({ text: `Still here after the ${reason} message.` });
    await net.mediator.note(caucusId, "Received, thank you.");
    await net.mediator.sync();
    expect(net.mediator.entries(caucusId).some((e) => e.eventId === s.eventId)).toBe(true);
    await loyal.sync();
    expect(loyal.caucus(caucusId).problem).toBeUndefined();
    expect(loyal.entries(caucusId).at(-1)?.payload?.body).toMatchObject({ type: "note" });
  };

  test("garbage is skipped with a warning naming its sender", async () => {
    await postRaw(randomBytes(700));
    await expectCaucusGoesOn("unreadable");
  });

  test("a party posting a body only the mediator may send (a conveyance) is skipped", async () => {
    const forged: EventBody = {
      type: "conveyance",
      source: "signal",
      mode: "verbatim",
      text: "South agrees to everything.",
      stance: noStance,
      fromParty: "South",
    };
    await sendEvent(coreOf(rogue), caucusId, forged);
    await expectCaucusGoesOn("unauthorised");
    // What the rogue said is never shown as a conveyance, on any device.
    for (const d of [net.mediator, loyal])
      expect(
        d
          .entries(caucusId)
          .some(
            (e) =>
              e.payload?.body.type === "conveyance" && e.payload.body.text === "South agrees to everything.",
          ),
      ).toBe(false);
  });

  test("a party posting a note (the mediator's own words) is skipped too", async () => {
    await sendEvent(coreOf(rogue), caucusId, { type: "note", text: "The mediator says: concede now." });
    await expectCaucusGoesOn("unauthorised");
    expect(
      loyal
        .entries(caucusId)
        .some((e) => e.payload?.body.type === "note" && e.payload.body.text.startsWith("The mediator says")),
    ).toBe(false);
  });

  test("a mediator device posting a party's body (a signal in the party's name) is skipped by the party's devices", async () => {
    await sendEvent(coreOf(net.mediator), caucusId, {
      type: "signal",
      signalKind: "reply",
      text: "North accepts every condition.",
      stance: noStance,
      disclosure: "verbatim",
      attribution: "party",
    });
    await loyal.sync();
    const last = loyal.entries(caucusId).at(-1)!;
    expect(last).toMatchObject({
      senderDeviceId: net.mediator.deviceId,
      skipped: { reason: "unauthorised" },
    });
    expect(last.payload).toBeUndefined();
    expect(loyal.caucus(caucusId).problem).toBeUndefined();
  });

  test("a commit posted as a message changes nothing and is skipped", async () => {
    const group = coreOf(rogue).caucus(caucusId).group()!;
    const { commit } = await group.commit({ removeDeviceIds: [loyal.deviceId] });
    await postRaw(commit);
    await net.mediator.sync();
    const last = net.mediator.caucus(caucusId).entries.at(-1)!;
    expect(last.senderDeviceId).toBe(rogue.deviceId);
    expect(last.skipped?.reason).toMatch(/unauthorised|unreadable/);
    expect(net.mediator.caucus(caucusId).problem).toBeUndefined();
    expect(net.mediator.handlers(caucusId).map((h) => h.deviceId)).toContain(loyal.deviceId);
  });

  test("the mediator removes the offending device; the caucus carries on without it", async () => {
    await net.mediator.removeDevice(caucusId, rogue.deviceId);
    expect(net.mediator.handlers(caucusId).map((h) => h.deviceId)).toEqual([loyal.deviceId]);
    const s = await loyal.send({ text: "Good riddance." });
    await net.mediator.sync();
    expect(net.mediator.entries(caucusId).some((e) => e.eventId === s.eventId)).toBe(true);
    expect(net.mediator.caucus(caucusId).problem).toBeUndefined();
  });

  test("even in a caucus whose transcript the relay broke, the mediator can remove a device", async () => {
    const southId = net.caucus.South!;
    const [first, second] = net.handlers.South as [Party, Party];
    await first.send({ text: "one" });
    const dropped = await first.send({ text: "two" });
    await first.send({ text: "three" });
    new ServerDatabase(join(net.dataDir, sqliteFileName)).deleteEvent(southId, dropped.seq);
    await net.mediator.sync();
    expect(net.mediator.caucus(southId).problem).toMatchObject({ kind: "gap" });
    // Sending stays refused in a broken caucus; removing a device does not.
    await expect(net.mediator.note(southId, "not onto a broken chain")).rejects.toMatchObject({
      code: "transcript_broken",
    });
    await net.mediator.removeDevice(southId, second.deviceId);
    await expect(second.send({ text: "am I still here?" })).rejects.toThrow();
  });
});
