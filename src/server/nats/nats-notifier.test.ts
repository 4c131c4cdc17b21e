import { createHash, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "../../protocol/index.js";
import type { Disconnect, Subscriber } from "../notifier.js";
import { openNatsNotifier, type NatsNotifier, type NatsNotifierOptions } from "./nats-notifier.js";
import {
  connectTestNats,
  Inbox,
  startTcpProxy,
  testNatsUrl,
  testPrefix,
  type TcpProxy,
} from "./test-helpers.js";

type Heard = { frame: ServerFrame } | { disconnect: Disconnect } | { resync: true };

/** A push socket as the notifier sees one: it records what it is told. */
class Socket implements Subscriber {
  readonly heard = new Inbox<Heard>();
  constructor(readonly tokenHash = createHash("sha256").update(randomUUID()).digest("hex")) {}
  onFrame(frame: ServerFrame): void {
    this.heard.push({ frame });
  }
  onDisconnect(reason: Disconnect): void {
    this.heard.push({ disconnect: reason });
  }
  onResync(): void {
    this.heard.push({ resync: true });
  }
}

/** A new device with one socket on node `n`, its subscription confirmed by NATS. */
async function socketOn(n: NatsNotifier): Promise<{ device: string; socket: Socket }> {
  const [device, socket] = [randomUUID(), new Socket()];
  n.subscribe(device, socket);
  await n.settled();
  return { device, socket };
}

const event = (seq: number): ServerFrame => ({ type: "event", caucusId: randomUUID(), seq });
const removed = (deviceId: string): Disconnect => ({
  deviceId,
  error: "device_removed",
  message: "this device was removed",
});

describe("NATS notifier: two relay nodes on one NATS", () => {
  let raw: NatsConnection;
  let prefix: string;
  let opened: NatsNotifier[] = [];
  let proxies: TcpProxy[] = [];
  let warnings: string[];

  beforeAll(async () => {
    raw = await connectTestNats();
  });
  afterAll(async () => {
    await raw?.close();
  });
  afterEach(async () => {
    for (const n of opened) await n.close();
    for (const p of proxies) await p.close();
    opened = [];
    proxies = [];
  });

  /** A node; its warnings are collected in `warnings`. */
  async function node(options: Partial<NatsNotifierOptions> = {}): Promise<NatsNotifier> {
    const n = await openNatsNotifier({
      url: testNatsUrl,
      prefix,
      reconnectWaitMs: 50,
      logger: {
        level: "warn",
        destination: new Writable({
          write(line: Buffer, _encoding, done) {
            const { msg } = JSON.parse(line.toString("utf8")) as { msg: string };
            warnings.push(msg);
            done();
          },
        }),
      },
      ...options,
    });
    opened.push(n);
    return n;
  }

  /** A node whose link to NATS goes through a proxy the test can cut. */
  async function cuttableNode(): Promise<{ n: NatsNotifier; proxy: TcpProxy }> {
    const proxy = await startTcpProxy();
    proxies.push(proxy);
    return { n: await node({ url: proxy.url }), proxy };
  }

  async function twoNodes(): Promise<[NatsNotifier, NatsNotifier]> {
    prefix = testPrefix();
    warnings = [];
    return [await node(), await node()];
  }

  it("a push on node A reaches a socket on node B", async () => {
    const [a, b] = await twoNodes();
    const { device, socket } = await socketOn(b);
    const frame = event(1);
    await a.publish(device, frame);
    expect(await socket.heard.next("the push")).toEqual({ frame });
  });

  it("a socket on the publishing node gets the frame once (noEcho), sockets elsewhere too", async () => {
    const [a, b] = await twoNodes();
    const device = randomUUID();
    const [here, there] = [new Socket(), new Socket()];
    a.subscribe(device, here);
    b.subscribe(device, there);
    await Promise.all([a.settled(), b.settled()]);
    const first = event(1);
    await a.publish(device, first);
    expect(await there.heard.next("the push on B")).toEqual({ frame: first });
    // NATS has routed `first` to every subscription, A's own included were echo on; a push from
    // B comes after anything NATS sent A for it.
    const second = event(2);
    await b.publish(device, second);
    expect(await here.heard.next("the push, served directly")).toEqual({ frame: first });
    expect(await here.heard.next("B's push")).toEqual({ frame: second });
    expect(here.heard.pending).toEqual([]);
  });

  it("holds one NATS subscription per device while it has sockets, and drops it with the last", async () => {
    const [a, b] = await twoNodes();
    const [device, witness] = [randomUUID(), randomUUID()];
    const [first, second, watcher] = [new Socket(), new Socket(), new Socket()];
    const unsubscribeFirst = b.subscribe(device, first);
    const unsubscribeSecond = b.subscribe(device, second);
    b.subscribe(witness, watcher);
    expect(b.subscribedDevices).toBe(2);

    unsubscribeFirst();
    expect(b.subscribedDevices).toBe(2);
    await b.settled();
    const frame = event(1);
    await a.publish(device, frame);
    expect(await second.heard.next("the push to the socket left")).toEqual({ frame });

    unsubscribeSecond();
    unsubscribeSecond(); // twice is harmless
    expect(b.subscribedDevices).toBe(1);
    await b.settled();
    await a.publish(device, event(2));
    // Same publisher, same receiving connection: NATS keeps their order, so once the witness has
    // its push, a push to the unsubscribed device would have arrived.
    const marker = event(3);
    await a.publish(witness, marker);
    expect(await watcher.heard.next("the witness's push")).toEqual({ frame: marker });
    expect(first.heard.pending).toEqual([]);
    expect(second.heard.pending).toEqual([]);
  });

  it("a disconnect on node A closes the session's sockets on node B, and only that session's", async () => {
    const [a, b] = await twoNodes();
    const device = randomUUID();
    const [revoked, kept, otherDevice] = [new Socket(), new Socket(), new Socket()];
    b.subscribe(device, revoked);
    b.subscribe(device, kept);
    const other = randomUUID();
    b.subscribe(other, otherDevice);
    await b.settled();

    const logout: Disconnect = {
      deviceId: device,
      tokenHash: revoked.tokenHash,
      error: "unauthenticated",
      message: "logged out",
    };
    await a.disconnect(logout);
    expect(await revoked.heard.next("the logout")).toEqual({ disconnect: logout });
    const marker = event(1);
    await a.publish(device, marker);
    expect(await kept.heard.next("a push, not a disconnect")).toEqual({ frame: marker });

    await a.disconnect(removed(device));
    expect(await kept.heard.next("the removal")).toEqual({ disconnect: removed(device) });
    expect(otherDevice.heard.pending).toEqual([]);
  });

  it("drops bad messages on its subjects with a warning each, and goes on delivering", async () => {
    const [a, b] = await twoNodes();
    const { device, socket } = await socketOn(b);
    const bad: [string, string][] = [
      ["push", "{not json"],
      ["push", JSON.stringify({ type: "event", caucusId: "x", seq: -1 })],
      ["push", JSON.stringify({ type: "ready", deviceId: device })], // only the socket's node says ready
      ["push", JSON.stringify({ type: "error", error: "internal", message: "made up" })],
      ["disconnect", JSON.stringify({ error: "no_such_code", message: "x" })],
      ["disconnect", JSON.stringify({ tokenHash: "short", error: "unauthenticated", message: "x" })],
      ["shout", JSON.stringify(event(1))],
    ];
    for (const [kind, text] of bad) raw.publish(`${prefix}.${kind}.${device}`, text);
    // Two connections are not ordered with each other: the server must hold the bad ones first.
    await raw.flush();
    const frame = event(2);
    await a.publish(device, frame);
    expect(await socket.heard.next("the good push")).toEqual({ frame });
    expect(socket.heard.pending).toEqual([]);
    expect(warnings).toEqual(bad.map(() => "dropped a bad message from NATS"));
  });

  it("after its link drops, a node tells its sockets to resync, having missed what came meanwhile", async () => {
    const [a] = await twoNodes();
    const { n: b, proxy } = await cuttableNode();
    const { device, socket } = await socketOn(b);

    proxy.cut();
    await vi.waitFor(() => expect(b.online).toBe(false));
    await a.publish(device, event(1)); // lost for B
    await a.disconnect({ ...removed(device), tokenHash: socket.tokenHash }); // lost for B too
    proxy.restore();
    expect(await socket.heard.next("the resync")).toEqual({ resync: true });
    expect(b.online).toBe(true);
    // Subscribed again: pushes flow as before.
    const frame = event(2);
    await a.publish(device, frame);
    expect(await socket.heard.next("a push after the outage")).toEqual({ frame });
  });

  it("a node whose link was down when it published sends a sync and the disconnects once it is back", async () => {
    const [b] = await twoNodes();
    const { n: a, proxy } = await cuttableNode();
    const [pushed, closed] = [randomUUID(), randomUUID()];
    const [pushedSocket, closedSocket] = [new Socket(), new Socket()];
    b.subscribe(pushed, pushedSocket);
    b.subscribe(closed, closedSocket);
    await b.settled();

    proxy.cut();
    await vi.waitFor(() => expect(a.online).toBe(false));
    await a.publish(pushed, event(1));
    await a.publish(pushed, event(2));
    await a.disconnect(removed(closed));
    proxy.restore();
    expect(await pushedSocket.heard.next("a sync for the pushes A could not send")).toEqual({
      frame: { type: "sync" },
    });
    expect(await closedSocket.heard.next("the disconnect, sent again")).toEqual({
      disconnect: removed(closed),
    });
    expect(pushedSocket.heard.pending).toEqual([]);
  });

  it("refuses ids that are not subject tokens and URLs that are not nats://, and names an unreachable server", async () => {
    const [a] = await twoNodes();
    expect(() => a.subscribe("a.>", new Socket())).toThrow(/not a NATS subject token/);
    await expect(a.publish("*", event(1))).rejects.toThrow(/not a NATS subject token/);
    await expect(node({ url: "http://127.0.0.1:4222" })).rejects.toThrow(/not a nats:\/\/ URL/);
    await expect(node({ prefix: "a..b" })).rejects.toThrow(/prefix/);
    await expect(node({ url: "nats://127.0.0.1:1" })).rejects.toThrow(
      /cannot reach NATS at nats:\/\/127\.0\.0\.1:1/,
    );
  });
});
