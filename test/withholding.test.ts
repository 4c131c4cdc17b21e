/**
 * Issue 7, item 6: a relay that withholds the newest events from one device is noticed within a
 * bounded time. The mediator's devices make sure every caucus hears from the mediator at least
 * every heartbeatEveryMs; a member that has heard nothing for quietAfterMs says so.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Party } from "../src/sdk/index.js";
import { heartbeatEveryMs, quietAfterMs } from "../src/sdk/core/liveness.js";
import { on } from "./helpers/hostile-relay.js";
import { coreOf } from "./helpers/internals.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

describe("withholding is noticed within a bound", () => {
  let net: TestNetwork;
  let north: Party;
  let caucusId: string;
  let now = Date.now();

  beforeAll(async () => {
    net = await startNetwork({ parties: ["North", "South"], hostile: true });
    north = net.handlers.North![0]!;
    caucusId = net.caucus.North!;
    // One clock for every device, moved by the test (no waiting, no wall-clock assertions).
    for (const d of [net.mediator, north, net.handlers.South![0]!]) coreOf(d).now = () => now;
  });
  afterAll(async () => net?.close());

  test("an honest relay: the mediator's heartbeats keep every member's view fresh", async () => {
    for (let i = 0; i < 3; i++) {
      now += heartbeatEveryMs + 1;
      await net.mediator.sync();
      await north.sync();
      expect(north.caucus(caucusId).quietSince).toBeUndefined();
    }
    // Heartbeats are in the chain but carry no words: nothing to show.
    expect(north.entries(caucusId).some((e) => e.payload?.body.type === "heartbeat")).toBe(true);
  });

  test("a relay freezing one device's view is noticed once the mediator has been quiet too long for it", async () => {
    await north.sync();
    const frozen = north.caucus(caucusId).head;
    const relay = net.relayOf(north);
    relay.blockSockets = true;
    // Every answer stays consistent, just old: the events after `frozen` never reach North.
    const withhold = relay.rule(
      on("GET", new RegExp(`^/v1/caucuses/${caucusId}/events$`), () => ({
        rewrite: (answer) => {
          const body = answer.body as { events: { seq: number }[]; head: unknown };
          return {
            ...answer,
            body: { events: body.events.filter((e) => e.seq <= frozen.seq), head: frozen },
          };
        },
      })),
    );
    let noticedAfter: number | undefined;
    const start = now;
    for (let step = 0; step < 6 && noticedAfter === undefined; step++) {
      now += heartbeatEveryMs + 1;
      await net.mediator.sync(); // heartbeats go out; North never sees them
      await north.sync();
      expect(north.caucus(caucusId).problem).toBeUndefined();
      if (north.caucus(caucusId).quietSince) noticedAfter = now - start;
    }
    expect(noticedAfter).toBeDefined();
    expect(noticedAfter!).toBeLessThanOrEqual(quietAfterMs + heartbeatEveryMs + 1);
    // South, whom the relay does not withhold from, sees nothing wrong.
    const south = net.handlers.South![0]!;
    await south.sync();
    expect(south.caucus(net.caucus.South!).quietSince).toBeUndefined();

    // The relay answers again: the warning goes with the next sync.
    withhold.remove();
    relay.blockSockets = false;
    await north.sync();
    expect(north.caucus(caucusId).quietSince).toBeUndefined();
  });
});
