import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Party } from "../src/sdk/index.js";
import { Mediator, MemoryStateStore, type TranscriptEntry } from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { watch, type WatchHandle } from "../src/sdk/watch.js";
import { createApp } from "../src/server/app.js";
import { openNatsNotifier, type NatsNotifier } from "../src/server/nats/nats-notifier.js";
import {
  Inbox,
  startTcpProxy,
  testNatsUrl,
  testPrefix,
  type TcpProxy,
} from "../src/server/nats/test-helpers.js";
import { listeningAt } from "../src/server/start-server.js";
import { joinUnconfirmed } from "./helpers/network.js";
import { openSqliteStorage } from "../src/server/storage/sqlite/sqlite-storage.js";
import type { Storage } from "../src/server/storage/storage.js";
import {
  fetchCall,
  login,
  mediatorWithCaucus,
  postApplication,
  TestSocket,
} from "../src/server/test-helpers.js";

/**
 * Two relay nodes behind one storage, each with its own NATS notifier and port: what a device
 * connected to one node is told about what happened on the other. (Two processes on one SQLite
 * file would not be safe; two apps in this process share one Storage instead.)
 */
interface Node {
  url: string;
  notifier: NatsNotifier;
  close(): Promise<void>;
}

class Relays {
  private readonly nodes: Node[] = [];
  readonly proxies: TcpProxy[] = [];
  private readonly prefix = testPrefix();
  constructor(readonly storage: Storage) {}

  /** A node; with `cuttable`, its link to NATS goes through a proxy the test can cut. */
  async node({ cuttable = false } = {}): Promise<Node & { proxy?: TcpProxy }> {
    const proxy = cuttable ? await startTcpProxy() : undefined;
    if (proxy) this.proxies.push(proxy);
    const notifier = await openNatsNotifier({
      url: proxy?.url ?? testNatsUrl,
      prefix: this.prefix,
      logger: false,
      reconnectWaitMs: 50,
    });
    const app = createApp(this.storage, { logger: false, notifier, registration: "open" });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const node = {
      url: listeningAt(app).url,
      notifier,
      close: () => app.close(),
      ...(proxy ? { proxy } : {}),
    };
    this.nodes.push(node);
    return node;
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await n.close();
    for (const p of this.proxies) await p.close();
  }
}

async function pushSocket(node: Node, token: string, sockets: TestSocket[]): Promise<TestSocket> {
  const socket = new TestSocket(`${node.url.replace(/^http/, "ws")}/v1/ws`);
  sockets.push(socket);
  await socket.opened();
  socket.send({ type: "auth", token });
  expect(await socket.next()).toMatchObject({ type: "ready" });
  // The node subscribed before it said ready; a round trip makes sure NATS has the subscription.
  await node.notifier.settled();
  return socket;
}

describe("two relay nodes: devices on one hear what happens on the other", () => {
  let dataDir: string;
  let storage: Storage;
  let relays: Relays;
  let one: Node;
  let two: Node & { proxy?: TcpProxy };
  let mediator: Mediator;
  let caucusId: string;
  let sender: Party;
  let watcher: Party;
  let watching: WatchHandle;
  const watched = new Inbox<TranscriptEntry>();
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backchannel-nodes-"));
    storage = await openSqliteStorage({ dataDir });
    relays = new Relays(storage);
    one = await relays.node();
    two = await relays.node({ cuttable: true });
    // The mediator and the sender on node 1; the watcher, another handler of A, on node 2.
    mediator = await Mediator.create({
      serverUrl: one.url,
      name: "Mediator",
      store: new MemoryStateStore(),
      platform: nodePlatform,
    });
    const channel = await mediator.createChannel({ topic: "no new strikes", parties: ["A", "B"] });
    caucusId = channel.caucuses.find((c) => c.partyName === "A")!.caucusId;
    sender = await joinUnconfirmed(mediator, caucusId, { serverUrl: one.url });
    watcher = await joinUnconfirmed(mediator, caucusId, { serverUrl: two.url });
    await mediator.sync();
    await sender.sync();
    await watcher.sync();
    const connected = new Inbox<string>();
    watching = await watch(
      watcher,
      (id, added) => {
        if (id === caucusId) for (const e of added) watched.push(e);
      },
      (status) => connected.push(status),
    );
    expect(await connected.next("the watch connected")).toBe("connected");
  });

  afterAll(async () => {
    watching?.stop();
    for (const s of sockets) s.ws.terminate();
    await relays?.close();
    await storage?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("a device watching on node 2 gets at once what another device sent on node 1", async () => {
    const socket = await pushSocket(two, await watcher.session.getToken(), sockets);
    const sent = await sender.send({ text: "We are not interested in escalating at this stage." });
    expect(await socket.next()).toEqual({ type: "event", caucusId, seq: sent.seq });
    const entry = await watched.next("the sender's signal on the watcher");
    expect(entry).toMatchObject({ seq: sent.seq, eventId: sent.eventId });
  });

  it("after node 2's link to NATS was down, its sockets are told to fetch, and the watcher gets what it missed", async () => {
    const socket = await pushSocket(two, await watcher.session.getToken(), sockets);
    two.proxy!.cut();
    await vi.waitFor(() => expect(two.notifier.online).toBe(false));
    const sent = await sender.send({ text: "Sent while node 2 could not hear." });
    two.proxy!.restore();
    // The event's own push was lost with the link: what comes is the catch-up.
    expect(await socket.next()).toEqual({ type: "sync" });
    const entry = await watched.next("the signal sent during the outage");
    expect(entry).toMatchObject({ seq: sent.seq, eventId: sent.eventId });
  });

  it("a device removed through node 1 loses its socket on node 2", async () => {
    const socket = await pushSocket(two, await watcher.session.getToken(), sockets);
    await mediator.removeDevice(caucusId, watcher.deviceId);
    expect(await socket.next()).toEqual({ type: "membership", caucusId });
    expect(await socket.next()).toEqual({
      type: "error",
      error: "device_removed",
      message: "this device was removed",
    });
    expect((await socket.closed).code).toBe(4401);
    // The watch's own socket was closed too: it finds the device removed and stops by itself.
    await watching.done;
    expect(watcher.caucus(caucusId).removed).toBe(true);
  });
});

describe("a relay node that missed disconnects while its link was down", () => {
  let dataDir: string;
  let storage: Storage;
  let relays: Relays;
  const sockets: TestSocket[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backchannel-nodes-"));
    storage = await openSqliteStorage({ dataDir });
    relays = new Relays(storage);
  });
  afterEach(async () => {
    for (const s of sockets) s.ws.terminate();
    await relays.close();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("closes, once back, the sockets whose session was revoked meanwhile, and tells the others to fetch", async () => {
    const one = await relays.node();
    const two = await relays.node({ cuttable: true });
    const call = fetchCall(one.url);
    const m = await mediatorWithCaucus(call);
    const other = await login(call, m.device);
    const revoked = await pushSocket(two, other, sockets);
    const kept = await pushSocket(two, m.token, sockets);

    two.proxy!.cut();
    await vi.waitFor(() => expect(two.notifier.online).toBe(false));
    expect(await call("POST", "/v1/auth/logout", {}, other)).toEqual({ status: 200, body: { revoked: 1 } });
    await postApplication(call, m);
    two.proxy!.restore();

    expect(await revoked.next()).toEqual({ type: "error", error: "unauthenticated", message: "logged out" });
    expect((await revoked.closed).code).toBe(4401);
    expect(await kept.next()).toEqual({ type: "sync" });
  });
});
