/**
 * Issue 7, item 3: a joining device starts its transcript where the mediator signed it would (the
 * commit that added it), never where the relay says. A relay that moves the start later, to hide
 * events of the new member's first epoch, gets the join refused (invariant 8).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Mediator, MemoryStateStore, Party } from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { on, startHostileRelay, type HostileRelay } from "./helpers/hostile-relay.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";

describe("a new member's starting point", () => {
  let net: TestNetwork;
  let north: Party;
  const relays: HostileRelay[] = [];

  beforeAll(async () => {
    net = await startNetwork({ parties: ["North", "South"] });
    north = net.handlers.North![0]!;
  });
  afterAll(async () => {
    for (const r of relays) await r.close();
    await net?.close();
  });

  const ownRelay = async (): Promise<HostileRelay> => {
    const r = await startHostileRelay(net.server.url);
    r.blockSockets = true; // the device joins when the test says so
    relays.push(r);
    return r;
  };
  /** The relay answers GET welcome with the chain head at the newest event instead. */
  const moveAnchorTo = (relay: HostileRelay, head: { seq: number; hash: string }) =>
    relay.rule(
      on("GET", /\/welcome$/, () => ({
        rewrite: (a) => ({ ...a, body: { ...(a.body as object), seq: head.seq, hash: head.hash } }),
      })),
    );
  const newestAtNorth = async () => {
    await north.sync();
    const last = north.entries(north.caucusId).at(-1)!;
    return { seq: last.seq, hash: last.hash };
  };

  test("a handler's device refuses a start moved past events of its epoch, and joins from the signed one", async () => {
    const relay = await ownRelay();
    const { code } = await net.mediator.invite(net.caucus.North!);
    const late = await Party.join({
      inviteCode: code,
      store: new MemoryStateStore(),
      platform: nodePlatform,
      serverUrl: relay.url,
    });
    await admitAfterComparing(net.mediator, late); // the add commit, then channel_info
    const hidden = await north.send({ text: "Only for those who were here.", disclosure: "verbatim" });
    const moved = moveAnchorTo(relay, await newestAtNorth());

    await expect(late.sync()).rejects.toMatchObject({ code: "anchor_unverified" });
    expect(late.joined).toBe(false);

    moved.remove();
    await late.sync();
    expect(late.joined).toBe(true);
    expect(late.entries(late.caucusId).map((e) => e.eventId)).toContain(hidden.eventId);
    expect(late.getSnapshot().caucus?.problem).toBeUndefined();
  });

  test("a mediator device joining by link refuses a moved start as well, and joins from the signed one", async () => {
    const relay = await ownRelay();
    const { code: linkCode } = await net.mediator.link();
    const staff = await Mediator.joinAsStaff({
      linkCode,
      store: new MemoryStateStore(),
      platform: nodePlatform,
      serverUrl: relay.url,
    });
    await staff.sync(); // hands in its key package
    await net.mediator.sync(); // admits it, posts channel info
    const hidden = await north.send({ text: "Before the new device looks.", disclosure: "verbatim" });
    const moved = moveAnchorTo(relay, await newestAtNorth());

    await staff.sync(); // the Welcome is refused: nothing joined
    expect(staff.caucusIds()).toEqual([]);

    moved.remove();
    await staff.sync();
    expect(staff.caucusIds().sort()).toEqual([net.caucus.North, net.caucus.South].sort());
    expect(staff.entries(net.caucus.North!).map((e) => e.eventId)).toContain(hidden.eventId);
  });
});
