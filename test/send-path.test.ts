import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MemoryStateStore, Party, type HttpTransport, type Platform } from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { on } from "./helpers/hostile-relay.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * Issue 8's send path: one round trip per send in steady state (no sync around it), the relay told
 * where the event goes (`after`), the ack checked against the link the device computes itself, and
 * the second save left for later without risk.
 */
describe("the send path", () => {
  let net: TestNetwork;
  const requests: { method: string; path: string }[] = [];
  const counting: HttpTransport = (request) => {
    requests.push({ method: request.method, path: request.url.pathname });
    return nodePlatform.transport(request);
  };
  const platform: Platform = { ...nodePlatform, transport: counting };

  beforeAll(async () => {
    net = await startNetwork({ parties: ["A", "B"], handlersPerParty: 2, platform, hostile: true });
  });
  afterAll(() => net.close());

  test("in steady state a send is one request: the post of its event", async () => {
    const a = net.handlers.A![0]!;
    await a.send({ text: "warm-up: logs in" });
    requests.length = 0;
    for (let i = 0; i < 5; i++) await a.send({ text: `signal ${i}` });
    expect(requests).toHaveLength(5);
    expect(
      requests.every((r) => r.method === "POST" && r.path.endsWith(`/caucuses/${a.caucusId}/events`)),
    ).toBe(true);
    // And the device holds them, verified, in the order the relay gave.
    const mine = a.entries(a.caucusId).slice(-5);
    expect(mine.map((e) => e.payload?.body.type === "signal" && e.payload.body.text)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `signal ${i}`),
    );
  });

  test("two handlers sending into one caucus at once both land; the loser of the head syncs and sends again", async () => {
    const [a1, a2] = net.handlers.A!;
    await Promise.all([a1!.sync(), a2!.sync()]);
    const sent = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a2! : a1!).send({ text: `together ${i}` })),
    );
    await Promise.all([a1!.sync(), a2!.sync(), net.mediator.sync()]);
    const seqs = sent.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(6);
    for (const d of [a1!, a2!, net.mediator]) {
      const ids = d.entries(a1!.caucusId).map((e) => e.eventId);
      for (const e of sent) expect(ids.filter((id) => id === e.eventId)).toHaveLength(1);
      expect((await d.verify()).every((r) => r.ok)).toBe(true);
    }
    // One order for both: the handler that joined later holds a suffix of the other's transcript.
    const [h1, h2] = [a1!, a2!].map((d) => d.entries(a1!.caucusId).map((e) => e.hash));
    const n = Math.min(h1!.length, h2!.length);
    expect(h1!.slice(-n)).toEqual(h2!.slice(-n));
  });

  test("an ack whose hash is not the link the device computed is not believed: the device syncs and finds its event", async () => {
    const b = net.handlers.B![0]!;
    const relay = net.relayOf(b);
    const lie = relay.rule(
      on("POST", /\/events$/, () => ({
        rewrite: (answer) => ({ ...answer, body: { ...(answer.body as object), hash: "f".repeat(64) } }),
      })),
    );
    try {
      const entry = await b.send({ text: "acked with a false hash" });
      // The entry is the one the relay really holds, found by the sync, not the acked one.
      expect(entry.hash).not.toBe("f".repeat(64));
      expect(
        relay.log.filter((r) => r.method === "GET" && r.path.includes("/events")).length,
      ).toBeGreaterThan(0);
    } finally {
      lie.remove();
    }
    expect(b.caucus(b.caucusId).problem).toBeUndefined();
    expect((await b.verify()).every((r) => r.ok)).toBe(true);
  });

  test("a retry of a send whose answer was lost keeps the payload that landed, once", async () => {
    const b = net.handlers.B![0]!;
    const relay = net.relayOf(b);
    const eventId = crypto.randomUUID();
    // The relay stores the event, then the answer is lost on the way back.
    const cut = relay.rule(on("POST", /\/events$/, () => ({ dropAnswer: true })));
    await expect(b.send({ text: "answer lost", eventId })).rejects.toThrow();
    cut.remove();
    const entry = await b.send({ text: "answer lost", eventId });
    await net.mediator.sync();
    const atMediator = net.mediator.entries(b.caucusId).filter((e) => e.eventId === eventId);
    expect(atMediator).toHaveLength(1);
    // What the sender shows is what the others decrypted, not a second encryption's sentAt/seen.
    expect(entry.payload).toEqual(atMediator[0]!.payload);
    expect(b.entries(b.caucusId).filter((e) => e.eventId === eventId)).toHaveLength(1);
  });

  test("the sender's own entry is saved soon after the ack; a crash before that loses nothing", async () => {
    const store = new MemoryStateStore();
    const { code } = await net.mediator.invite(net.caucus.B!, { confirm: false });
    const h = await Party.join({ inviteCode: code, store, platform, serverUrl: net.server.url });
    await net.mediator.sync();
    expect(await h.waitUntilJoined(10_000)).toBe(true);
    const entry = await h.send({ text: "saved twice: before the post, and soon after the ack" });
    // What a crash right now would leave: the payload in the outbox, the event at the relay.
    const crashed = new MemoryStateStore();
    await crashed.update(new Map(Object.entries(await store.load())));
    const reopened = await Party.open(crashed, platform);
    await reopened.sync();
    const again = reopened.entries(reopened.caucusId).filter((e) => e.eventId === entry.eventId);
    expect(again).toHaveLength(1);
    expect(again[0]!.payload).toEqual(entry.payload);
    // And the deferred save lands by itself: the store then holds the entry.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const later = await Party.open(store, platform);
    expect(later.entries(later.caucusId).some((e) => e.eventId === entry.eventId)).toBe(true);
  });
});
