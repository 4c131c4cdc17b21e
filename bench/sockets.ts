import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { opaque, setUpMembership, type Membership } from "./sockets-setup.js";
import type { FromClient, ToClient } from "./sockets-ipc.js";
import { canRaiseFileLimit, compileRelay, hardFileLimit, nextMessage, startRelay } from "./sockets-relay.js";
import { nowMs, percentile, round } from "./stats.js";

export interface SocketsOptions {
  /** Push sockets to hold open at once (the target is 20,000). */
  sockets: number;
  /** Member devices of the one caucus; each holds sockets ÷ members sockets in the RSS phase. */
  members: number;
  /**
   * Events posted, one at a time, to the members' one socket each; the phase with every socket
   * open posts a fifth as many (each fans out `sockets ÷ members` times wider).
   */
  events: number;
  progress(line: string): void;
}

/**
 * One delivery phase. The relay answers the post, then pushes the event's hints (a chunk per turn
 * of its event loop): delivery is timed from the moment the post was sent, and `afterAck` says
 * how long after the ack each hint arrived (negative: before it, as a small chunk may).
 */
export interface Delivery {
  sockets: number;
  events: number;
  deliveries: number;
  /** Post sent → a member socket has the hint frame (append, fan-out, and the client reading it). */
  p50Ms: number;
  p99Ms: number;
  /** Post sent → the poster has read its ack. */
  ackP50Ms: number;
  ackP99Ms: number;
  /** Ack read → a member socket has the hint frame. */
  afterAckP50Ms: number;
  afterAckP99Ms: number;
}

export interface SocketsResult {
  /** RSS of the relay holding 20,000 authenticated idle push sockets, MiB (see `extrapolated`). */
  rssMiBFor20k: number;
  /** Delivery of one event's hint to 1,000 online members, one socket each (see Delivery). */
  deliveryP50Ms: number;
  deliveryP99Ms: number;
  /** Sockets actually held when RSS was read, and from how many member devices. */
  opened: number;
  devices: number;
  sourceAddresses: string[];
  /** The relay child's open-file limit, and whether it had to stay below what `sockets` needs. */
  fileLimit: number;
  /** True when fewer than 20,000 sockets could be held and rssMiBFor20k is scaled linearly. */
  extrapolated: boolean;
  rssMiB: { beforeSockets: number; atOpened: number; peak: number };
  kibPerSocket: number;
  relayHeapMiB: { heapUsed: number; external: number; arrayBuffers: number };
  delivery: Delivery;
  deliveryAtOpened: Delivery;
  ms: { setup: number; open: number; total: number };
}

/** Sockets per client process: far below the per-process open-file limit. */
const socketsPerClient = 5_000;
/** Open files the relay needs besides the push sockets: SQLite, libuv, stdio, setup connections. */
const relayFileReserve = 200;

export async function measureSockets(opts: SocketsOptions): Promise<SocketsResult> {
  if (opts.sockets < opts.members)
    throw new Error(`BENCH_SOCKETS (${opts.sockets}) must be at least the members (${opts.members})`);
  const started = nowMs();
  opts.progress("sockets: compiling the relay");
  const startServerJs = compileRelay();

  let fileLimit = opts.sockets + relayFileReserve;
  let wanted = opts.sockets;
  const raise = canRaiseFileLimit(fileLimit);
  if (!raise.ok) {
    fileLimit = hardFileLimit();
    wanted = Math.min(opts.sockets, fileLimit - relayFileReserve);
    opts.progress(
      `sockets: cannot raise the open-file limit to ${opts.sockets + relayFileReserve} here ` +
        `(${raise.message}; raising a hard limit needs CAP_SYS_RESOURCE): holding ${wanted} sockets ` +
        `under the hard limit of ${fileLimit} and scaling the RSS to ${opts.sockets}`,
    );
  }
  if (wanted < opts.members) throw new Error(`only ${wanted} sockets fit under the open-file limit`);

  const relay = await startRelay(startServerJs, fileLimit);
  const clients: ChildProcess[] = [];
  try {
    opts.progress(`sockets: registering ${opts.members} member devices through the API`);
    let t = nowMs();
    const membership = await setUpMembership(relay.url, opts.members);
    const setupMs = nowMs() - t;
    await sleep(1_000);
    const beforeSockets = relay.rssMiB().rss;

    const clientCount = Math.max(1, Math.ceil(wanted / socketsPerClient));
    const sourceAddresses = Array.from({ length: clientCount }, (_, i) => `127.0.0.${i + 2}`);
    const clientFile = fileURLToPath(new URL("./sockets-client.ts", import.meta.url));
    for (let i = 0; i < clientCount; i++)
      clients.push(
        fork(clientFile, { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] }),
      );
    const delivered = new DeliveredLog(clients);
    const wsUrl = `${relay.url.replace(/^http/, "ws")}/v1/ws`;

    opts.progress(`sockets: one socket per member (${opts.members}) from ${clientCount} source addresses`);
    t = nowMs();
    await openSockets(clients, wsUrl, sourceAddresses, membership.tokens);
    opts.progress(`sockets: posting ${opts.events} events, each hinted to ${opts.members} sockets`);
    const delivery = await measureDelivery(clients, delivered, membership, opts.events, opts.members);
    opts.progress(`sockets:   ${describe(delivery)}`);

    const more = Array.from(
      { length: wanted - opts.members },
      (_, i) => membership.tokens[i % opts.members]!,
    );
    opts.progress(`sockets: opening ${more.length} more (${wanted} in all)`);
    await openSockets(clients, wsUrl, sourceAddresses, more);
    const openMs = nowMs() - t;
    // Idle: nothing in flight, the handshakes' garbage left for V8 to collect as it would.
    await sleep(3_000);
    const rss = relay.rssMiB();
    const relayHeapMiB = await relay.memory();
    const kibPerSocket = ((rss.rss - beforeSockets) * 1024) / wanted;
    const rssMiBFor20k = round(beforeSockets + (kibPerSocket * 20_000) / 1024, 1);
    opts.progress(
      `sockets:   relay RSS ${beforeSockets} MiB before, ${rss.rss} MiB with ${wanted} sockets ` +
        `(${round(kibPerSocket, 1)} KiB each)`,
    );

    const fewer = Math.ceil(opts.events / 5);
    opts.progress(`sockets: posting ${fewer} events, each hinted to ${wanted} sockets`);
    const deliveryAtOpened = await measureDelivery(clients, delivered, membership, fewer, wanted);
    opts.progress(`sockets:   ${describe(deliveryAtOpened)}`);

    return {
      rssMiBFor20k,
      deliveryP50Ms: delivery.p50Ms,
      deliveryP99Ms: delivery.p99Ms,
      opened: wanted,
      devices: opts.members,
      sourceAddresses,
      fileLimit,
      extrapolated: wanted !== 20_000,
      rssMiB: { beforeSockets, atOpened: rss.rss, peak: rss.peak },
      kibPerSocket: round(kibPerSocket, 2),
      relayHeapMiB,
      delivery,
      deliveryAtOpened,
      ms: { setup: Math.round(setupMs), open: Math.round(openMs), total: Math.round(nowMs() - started) },
    };
  } finally {
    for (const c of clients) if (c.connected) c.send({ type: "close" } satisfies ToClient);
    await Promise.all(
      clients.filter((c) => c.exitCode === null).map((c) => new Promise((r) => c.once("exit", r))),
    );
    await relay.close();
    opts.progress(`sockets: done in ${Math.round((nowMs() - started) / 1000)} s`);
  }
}

const describe = (d: Delivery): string =>
  `delivery p50 ${d.p50Ms} ms, p99 ${d.p99Ms} ms from the post; the ack came after p50 ${d.ackP50Ms} ms`;

/** Deals `tokens` out to the clients, one source address each, and waits until all are ready. */
async function openSockets(
  clients: readonly ChildProcess[],
  url: string,
  sourceAddresses: readonly string[],
  tokens: readonly string[],
): Promise<void> {
  const results = await Promise.all(
    clients.map((c, i) => {
      const share = tokens.filter((_, j) => j % clients.length === i);
      c.send({
        type: "open",
        url,
        localAddress: sourceAddresses[i]!,
        tokens: share,
        concurrency: 64,
      } satisfies ToClient);
      return nextMessage<Extract<FromClient, { type: "opened" }>>(c, "opened", 300_000);
    }),
  );
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0)
    throw new Error(
      `${failed} push sockets failed to open; first: ${results.find((r) => r.firstError)?.firstError}`,
    );
}

/**
 * Posts `events` application messages one at a time as the mediator; after each, waits until
 * every client says all its sockets have the hint. Receive times come back at the end, so the
 * measuring itself sends nothing per frame.
 */
async function measureDelivery(
  clients: readonly ChildProcess[],
  delivered: DeliveredLog,
  membership: Membership,
  events: number,
  sockets: number,
): Promise<Delivery> {
  const posted = new Map<number, { sentAt: number; ackAt: number }>();
  for (let i = 0; i < events; i++) {
    const sentAt = nowMs();
    const { seq } = await membership.mediator.call("appendEvent", {
      params: { caucusId: membership.caucusId },
      body: {
        eventId: randomUUID(),
        kind: "application",
        epoch: membership.epoch,
        ciphertext: opaque(1_024),
      },
    });
    const ackAt = nowMs();
    posted.set(seq, { sentAt, ackAt });
    await delivered.all(seq, 30_000);
  }
  const afterAck: number[] = [];
  const afterPost: number[] = [];
  const acks = [...posted.values()].map((p) => p.ackAt - p.sentAt);
  for (const c of clients) {
    c.send({ type: "times" } satisfies ToClient);
    const { bySeq, closed } = await nextMessage<Extract<FromClient, { type: "times" }>>(c, "times", 30_000);
    if (closed > 0) throw new Error(`${closed} push sockets closed during the run`);
    for (const [seq, times] of Object.entries(bySeq)) {
      const p = posted.get(Number(seq));
      if (!p) continue;
      for (const at of times) {
        afterAck.push(at - p.ackAt);
        afterPost.push(at - p.sentAt);
      }
    }
  }
  for (const xs of [afterAck, afterPost, acks]) xs.sort((a, b) => a - b);
  return {
    sockets,
    events,
    deliveries: afterPost.length,
    p50Ms: round(percentile(afterPost, 50)),
    p99Ms: round(percentile(afterPost, 99)),
    ackP50Ms: round(percentile(acks, 50)),
    ackP99Ms: round(percentile(acks, 99)),
    afterAckP50Ms: round(percentile(afterAck, 50)),
    afterAckP99Ms: round(percentile(afterAck, 99)),
  };
}

/**
 * Which events each client has fully delivered. Listening from the start: a client can report
 * an event before the poster has even read its ack (the hints may outrun the ack's delivery).
 */
class DeliveredLog {
  private readonly seen = new Map<ChildProcess, Set<number>>();
  private readonly waiters = new Set<() => void>();

  constructor(clients: readonly ChildProcess[]) {
    for (const c of clients) {
      const set = new Set<number>();
      this.seen.set(c, set);
      c.on("message", (m: FromClient) => {
        if (m.type !== "delivered") return;
        set.add(m.seq);
        for (const w of this.waiters) w();
      });
    }
  }

  /** Resolves once every client has reported `seq`. */
  async all(seq: number, ms: number): Promise<void> {
    const done = () => [...this.seen.values()].every((s) => s.has(seq));
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`the hint for event #${seq} did not reach every socket within ${ms} ms`));
      }, ms);
      this.waiters.add(check);
    });
  }
}
