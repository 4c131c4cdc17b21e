import { cpus } from "node:os";
import { measureBackchannel } from "./backchannel-load.js";
import { measureBaseline } from "./baseline-load.js";
import { defaultCryptoProvider } from "ts-mls";
import { bareEncryptCpuMs, measureCrypto } from "./crypto.js";
import { measureDeviceState } from "./device-state-load.js";
import { intEnv } from "./env.js";
import { measureNodes, nodesOptionsFromEnv } from "./nodes.js";
import { measureRelayAlone } from "./relay-alone.js";
import { measureSockets } from "./sockets.js";
import { round } from "./stats.js";

/**
 * Backchannel end to end (sdk encrypts with MLS, posts over HTTP with one round trip, the relay
 * in its own process stores with fsync) against a minimal WebSocket + SQLite relay with the same
 * durability, and the parts of issue 8 each in its own phase (bench/README.md), in one run. One JSON document goes to stdout; progress
 * goes to stderr so `npm run bench > result.json` stays machine-readable.
 */

const progress = (line: string) => process.stderr.write(`${line}\n`);

const events = intEnv("BENCH_EVENTS", 1000, 1);
const senders = intEnv("BENCH_SENDERS", 3, 0);
const warmup = intEnv("BENCH_WARMUP", 200, 1);
const stateEvents = intEnv("BENCH_STATE_EVENTS", 10_000, 0);
const stateCaucuses = intEnv("BENCH_CAUCUSES", 200, 4);
const socketCount = intEnv("BENCH_SOCKETS", 20_000, 0);
const socketMembers = intEnv("BENCH_SOCKET_MEMBERS", 1_000, 1);
const socketEvents = intEnv("BENCH_SOCKET_EVENTS", 50, 1);

const backchannel = await measureBackchannel({ events, senders, warmup, progress });
const baseline = await measureBaseline({
  events,
  senders,
  warmup,
  payloadBytes: backchannel.ciphertextBytes,
  progress,
});

// The floor a send's CPU is compared with: one bare ts-mls encrypt of the same padded plaintext
// (the largest power of two below the ciphertext: padding buckets start at 512 bytes and MLS adds
// less than that), on the provider the devices use.
const plaintextBytes = 2 ** Math.floor(Math.log2(backchannel.ciphertextBytes));
const bareEncrypt = await bareEncryptCpuMs(plaintextBytes);
// The same on ts-mls's own default provider (noble), the "bare ts-mls encrypt" of issue 8's
// wording before the sdk had a faster provider: a second reference, not a replacement.
const bareEncryptDefault = await bareEncryptCpuMs(plaintextBytes, { provider: defaultCryptoProvider });

// MLS crypto providers side by side (bench/crypto.ts); BENCH_CRYPTO=0 leaves the key out.
const cryptoResult = process.env.BENCH_CRYPTO === "0" ? undefined : await measureCrypto({ progress });

/** Throughput ratios below 1 and latency ratios above 1 mean Backchannel is slower. */
const ratio = {
  throughput: round(backchannel.send.eventsPerSec / baseline.eventsPerSec, 4),
  p50: round(backchannel.send.p50Ms / baseline.p50Ms, 2),
  p99: round(backchannel.send.p99Ms / baseline.p99Ms, 2),
  ...(backchannel.sendConcurrent && baseline.concurrent
    ? {
        concurrentThroughput: round(
          backchannel.sendConcurrent.eventsPerSec / baseline.concurrent.eventsPerSec,
          4,
        ),
      }
    : {}),
};

const state =
  stateEvents > 0
    ? await measureDeviceState({ events: stateEvents, caucuses: stateCaucuses, notes: 100, progress })
    : undefined;

// The relay alone (no sdk in the timed part) against the minimal relay at 1, 4 and 16 senders.
const relay =
  process.env.BENCH_RELAY === "0"
    ? undefined
    : await measureRelayAlone({
        events: intEnv("BENCH_RELAY_EVENTS", 2000, 16),
        warmup: intEnv("BENCH_RELAY_WARMUP", 200, 1),
        rounds: intEnv("BENCH_RELAY_ROUNDS", 4, 1),
        openLoop: { ratePerSec: 1000, seconds: intEnv("BENCH_RELAY_OPEN_SECONDS", 3, 1) },
        ...(process.env.BENCH_RELAY_PROF ? { cpuProfDir: process.env.BENCH_RELAY_PROF } : {}),
        progress,
      });

// Several relay nodes on a private PostgreSQL and NATS (issue 9): CPU per event with 1, 2 and 3.
const nodes = process.env.BENCH_NODES === "0" ? undefined : await measureNodes(nodesOptionsFromEnv(progress));

// It runs the relay and its clients in child processes of their own, after the rest.
const sockets =
  socketCount > 0
    ? await measureSockets({ sockets: socketCount, members: socketMembers, events: socketEvents, progress })
    : undefined;

const cpuList = cpus();
process.stdout.write(
  `${JSON.stringify(
    {
      node: process.version,
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? "unknown",
      events,
      senders,
      warmup,
      // The issue's keys first (bench/README.md says what each is), then the detail.
      send: {
        p50Ms: backchannel.send.p50Ms,
        p99Ms: backchannel.send.p99Ms,
        roundTripsPerSend: backchannel.send.roundTripsPerSend,
        cpuMsPerEvent: backchannel.send.cpuMsPerEvent,
        bareEncryptCpuMs: bareEncrypt,
        plaintextBytes,
        cpuRatio: round(backchannel.send.cpuMsPerEvent / bareEncrypt, 2),
        bareEncryptDefaultProviderCpuMs: bareEncryptDefault,
        cpuRatioDefaultProvider: round(backchannel.send.cpuMsPerEvent / bareEncryptDefault, 2),
        relayCpuMsPerEvent: backchannel.send.relayCpuMsPerEvent,
      },
      receive: {
        eventsPerSec: backchannel.receive.eventsPerSec,
        cpuMsPerEvent: backchannel.receive.cpuMsPerEvent,
      },
      ...(relay ? { relay } : {}),
      ...(nodes ? { nodes } : {}),
      ...(state ? { state } : {}),
      ...(sockets ? { sockets } : {}),
      crypto: cryptoResult,
      backchannel,
      baseline,
      ratio,
    },
    null,
    2,
  )}\n`,
);
