/**
 * Push fan-out between relay nodes: core NATS against a JetStream stream with acks, on this
 * machine's NATS server (`npx tsx bench/nats-fanout.ts > nats.json`; progress on stderr, one JSON
 * document on stdout). Every row has a publishing and a receiving connection, as two relay nodes
 * would, in this one process, so both sides share its CPU alike.
 *
 * - latency: one message at a time (publish, wait for its delivery, next), from the publish call
 *   to the receiving callback; for JetStream the publish also waits for its PubAck and the
 *   consumer acks each message, as at-least-once delivery needs.
 * - throughput: `BENCH_NATS_MESSAGES` published as fast as the side allows (core: in chunks of
 *   500 between event-loop turns; JetStream: at most 256 unacknowledged publishes), from the first
 *   publish to the last delivery.
 * - `notifier`: the relay's own NatsNotifier (core NATS, JSON, zod on receipt) node to node.
 */
import { randomUUID } from "node:crypto";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { ServerFrame } from "../src/protocol/index.js";
import { openNatsNotifier } from "../src/server/nats/nats-notifier.js";
import { nowMs, percentile, round } from "./stats.js";

const url = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const latencyMessages = Number(process.env.BENCH_NATS_LATENCY ?? 2000);
const throughputMessages = Number(process.env.BENCH_NATS_MESSAGES ?? 20_000);
const warmup = Number(process.env.BENCH_NATS_WARMUP ?? 1000);

/** A push frame's size on the wire (an event hint), as the relay sends it. */
const payload = (seq: number): string =>
  JSON.stringify({ type: "event", caucusId: randomUUID(), seq } satisfies ServerFrame);

/** One side under test: `send` publishes message `seq`; `onDelivery` is told each `seq` received. */
interface Side {
  send(seq: number): Promise<void>;
  /** Publishes with no wait on the publish itself (JetStream still collects its acks). */
  sendMany(from: number, count: number): Promise<void>;
  onDelivery: (seq: number) => void;
  close(): Promise<void>;
}

interface Row {
  latency: { messages: number; p50Ms: number; p99Ms: number; meanMs: number };
  throughput: { messages: number; msgsPerSec: number };
}

async function measure(name: string, side: Side): Promise<Row> {
  process.stderr.write(`${name}: latency…\n`);
  let waiting: { seq: number; resolve: () => void } | undefined;
  side.onDelivery = (seq) => {
    if (waiting?.seq === seq) waiting.resolve();
  };
  const one = async (seq: number): Promise<number> => {
    const delivered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name}: message ${seq} not delivered in 10 s`)),
        10_000,
      );
      waiting = { seq, resolve: () => (clearTimeout(timer), resolve()) };
    });
    const start = nowMs();
    await Promise.all([side.send(seq), delivered]);
    return nowMs() - start;
  };
  for (let i = 0; i < warmup; i++) await one(i);
  const latencies: number[] = [];
  for (let i = 0; i < latencyMessages; i++) latencies.push(await one(warmup + i));
  const sorted = [...latencies].sort((a, b) => a - b);

  process.stderr.write(`${name}: throughput…\n`);
  const base = 1_000_000;
  let received = 0;
  const allIn = new Promise<void>((resolve) => {
    side.onDelivery = (seq) => {
      if (seq >= base && ++received === throughputMessages) resolve();
    };
  });
  const start = nowMs();
  await side.sendMany(base, throughputMessages);
  await allIn;
  const elapsed = nowMs() - start;
  await side.close();
  return {
    latency: {
      messages: latencyMessages,
      p50Ms: round(percentile(sorted, 50), 3),
      p99Ms: round(percentile(sorted, 99), 3),
      meanMs: round(latencies.reduce((a, b) => a + b, 0) / latencies.length, 3),
    },
    throughput: {
      messages: throughputMessages,
      msgsPerSec: Math.round(throughputMessages / (elapsed / 1000)),
    },
  };
}

const seqOf = (text: string): number => (JSON.parse(text) as { seq: number }).seq;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function coreSide(): Promise<Side> {
  const [pub, sub] = [await connect({ servers: url }), await connect({ servers: url })];
  const subject = `bench.core.${randomUUID()}`;
  const side: Side = {
    onDelivery: () => undefined,
    send: (seq) => Promise.resolve(pub.publish(subject, payload(seq))),
    async sendMany(from, count) {
      for (let i = 0; i < count; i++) {
        pub.publish(subject, payload(from + i));
        if (i % 500 === 499) await turn();
      }
    },
    async close() {
      await pub.close();
      await sub.close();
    },
  };
  sub.subscribe(subject, { callback: (_e, m) => side.onDelivery(seqOf(m.string())) });
  await sub.flush();
  return side;
}

async function jetStreamSide(storage: StorageType): Promise<Side> {
  const [pub, sub] = [await connect({ servers: url }), await connect({ servers: url })];
  const jsm: JetStreamManager = await jetstreamManager(pub);
  const stream = `bench_fanout_${randomUUID().replaceAll("-", "")}`;
  const subject = `bench.js.${stream}`;
  await jsm.streams.add({ name: stream, subjects: [subject], storage });
  await jsm.consumers.add(stream, {
    durable_name: "node",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
  });
  const js = jetstream(pub);
  const consumer = await jetstream(sub).consumers.get(stream, "node");
  const side: Side = {
    onDelivery: () => undefined,
    send: async (seq) => void (await js.publish(subject, payload(seq))),
    async sendMany(from, count) {
      const window = 256;
      const inFlight = new Set<Promise<unknown>>();
      for (let i = 0; i < count; i++) {
        const p = js.publish(subject, payload(from + i)).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= window) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    },
    async close() {
      await messages.close();
      await jsm.streams.delete(stream);
      await pub.close();
      await sub.close();
    },
  };
  const messages = await consumer.consume({
    max_messages: 1000,
    callback: (m) => {
      m.ack();
      side.onDelivery(seqOf(m.string()));
    },
  });
  return side;
}

async function notifierSide(): Promise<Side> {
  const prefix = `bench-notifier.${randomUUID()}`;
  const [a, b] = [
    await openNatsNotifier({ url, prefix, logger: false }),
    await openNatsNotifier({ url, prefix, logger: false }),
  ];
  const deviceId = randomUUID();
  // A frame's seq is positive; the bench counts from 0.
  const frame = (seq: number): ServerFrame => ({ type: "event", caucusId: deviceId, seq: seq + 1 });
  const side: Side = {
    onDelivery: () => undefined,
    send: (seq) => a.publish(deviceId, frame(seq)),
    async sendMany(from, count) {
      for (let i = 0; i < count; i++) {
        await a.publish(deviceId, frame(from + i));
        if (i % 500 === 499) await turn();
      }
    },
    async close() {
      await a.close();
      await b.close();
    },
  };
  b.subscribe(deviceId, {
    tokenHash: "bench",
    onFrame: (f) => {
      if (f.type === "event") side.onDelivery(f.seq - 1);
    },
    onDisconnect: () => undefined,
    onResync: () => undefined,
  });
  await b.settled();
  return side;
}

async function serverVersion(): Promise<string> {
  const nc: NatsConnection = await connect({ servers: url });
  const version = nc.info?.version ?? "unknown";
  await nc.close();
  return version;
}

const core = await measure("core", await coreSide());
const jetStreamFile = await measure("jetstream (file)", await jetStreamSide(StorageType.File));
const jetStreamMemory = await measure("jetstream (memory)", await jetStreamSide(StorageType.Memory));
const notifier = await measure("notifier", await notifierSide());
process.stdout.write(
  `${JSON.stringify(
    {
      natsServer: await serverVersion(),
      core,
      jetStreamFile,
      jetStreamMemory,
      notifier,
      ratio: {
        jetStreamFileP50OverCore: round(jetStreamFile.latency.p50Ms / core.latency.p50Ms),
        jetStreamFileP99OverCore: round(jetStreamFile.latency.p99Ms / core.latency.p99Ms),
        coreThroughputOverJetStreamFile: round(
          core.throughput.msgsPerSec / jetStreamFile.throughput.msgsPerSec,
        ),
      },
    },
    null,
    2,
  )}\n`,
);
