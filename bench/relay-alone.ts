import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ciphertextOf } from "../src/protocol/index.js";
import type { Party } from "../src/sdk/index.js";
import { startNetwork } from "../test/helpers/network.js";
import { signalText } from "./backchannel-load.js";
import { connectBaselineSenders } from "./baseline-load.js";
import { runLoad, runOpenLoop, type LoadRun } from "./load.js";
import { RelayClient, type RelaySender } from "./relay-client.js";
import { RelayProcess } from "./relay-process.js";
import { median, percentile, round } from "./stats.js";

export interface RelayAloneOptions {
  /** Appends per concurrency level and side, shared among its senders and rounds. */
  events: number;
  /**
   * Appends per sender before timing, all 16 senders at once. A few thousand, so that the relay's
   * code is optimised (JIT) before the first level: with a few hundred, the 1-sender level ran
   * half-warm and paid for it (0.6 instead of 0.35 ms relay CPU per append).
   */
  warmup: number;
  /** Concurrent senders per level, each into its own caucus; default 1, 4 and 16. */
  concurrency?: readonly number[];
  /**
   * Each level is measured in this many short rounds, relay and baseline in turn (ABBA), so both
   * see the same noise from whatever else the machine is doing; default 4.
   */
  rounds?: number;
  openLoop?: { ratePerSec: number; seconds: number };
  /** Write a --cpu-prof profile of the real relay's process here. */
  cpuProfDir?: string;
  progress(line: string): void;
}

export interface SideResult {
  events: number;
  /** Median over the rounds. */
  eventsPerSec: number;
  /** Over every append of every round. */
  p50Ms: number;
  p99Ms: number;
  /** CPU of the relay's own process per event. */
  relayCpuMsPerEvent: number;
  /** CPU of the load client (this process) per event. */
  clientCpuMsPerEvent: number;
}

export interface LevelResult {
  senders: number;
  relay: SideResult;
  baseline: SideResult;
  /** relay ÷ baseline events/s: the median of the rounds' ratios. */
  ratio: number;
  /** The lowest and highest round's ratio: how noisy the machine was. */
  ratioRange: [number, number];
}

export interface OpenLoopResult {
  offeredPerSec: number;
  achievedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  relayCpuMsPerEvent: number;
}

export interface RelayAloneResult {
  /** Bytes of the MLS ciphertexts posted (before base64url); the baseline sends as many. */
  ciphertextBytes: number;
  levels: LevelResult[];
  /** relay ÷ baseline events/s at N senders, for each N measured (ratio1, ratio4, ratio16). */
  [ratioN: `ratio${number}`]: number;
  openLoop?: { seconds: number; relay: OpenLoopResult; baseline: OpenLoopResult };
  /** The relay's p99 (ms, due time to ack) at 1,000 events/s offered, open loop. */
  p99MsAt1000?: number;
}

/** A relay under test: its process and one send function per sender (caucus). */
interface Target {
  name: string;
  process: RelayProcess;
  senders: (() => Promise<unknown>)[];
}

/**
 * The relay alone, against the minimal relay: each runs in a process of its own (relay-alone-process.ts)
 * with its database in a temp dir, durable (WAL, synchronous=FULL). The real relay gets authenticated
 * devices of the integration tests' network, one per caucus, each posting a real MLS ciphertext it
 * made once before timing (under fresh event ids); the baseline gets the same number of bytes.
 * Closed loop at each concurrency (request, wait for the ack, next request, per sender), then an
 * open loop at a fixed offered rate.
 */
export async function measureRelayAlone(opts: RelayAloneOptions): Promise<RelayAloneResult> {
  const levels = opts.concurrency ?? [1, 4, 16];
  const rounds = opts.rounds ?? 4;
  // A channel has two parties at least.
  const width = Math.max(2, ...levels);
  const parties = Array.from({ length: width }, (_, i) => `P${i + 1}`);
  opts.progress(`relay alone: a mediator and ${width} admitted handlers, one caucus each`);
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  const net = await startNetwork({
    parties,
    topic: "bench relay alone",
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  const baselineDir = mkdtempSync(join(tmpdir(), "backchannel-bench-baseline-"));
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const senders = await Promise.all(parties.map((p) => madeSender(net.handlers[p]![0]!)));
    const ciphertextBytes = Buffer.from(senders[0]!.ciphertext, "base64url").length;
    // The devices' relay hands its database over to the one under test.
    await net.server.close();

    const relayProcess = await RelayProcess.start("real", net.dataDir, opts.cpuProfDir);
    cleanup.push(() => relayProcess.close());
    const http = new RelayClient(relayProcess.url);
    const real: Target = {
      name: "relay",
      process: relayProcess,
      senders: senders.map((s) => http.appender(s)),
    };

    const baselineProcess = await RelayProcess.start("baseline", baselineDir);
    cleanup.push(() => baselineProcess.close());
    const ws = await connectBaselineSenders(baselineProcess.url, width, ciphertextBytes);
    cleanup.push(() => ws.close());
    const baseline: Target = { name: "baseline", process: baselineProcess, senders: ws.senders };

    for (const t of [real, baseline]) {
      opts.progress(`relay alone: ${t.name}: warm-up, ${opts.warmup} appends per sender`);
      await runLoad(t.senders, opts.warmup);
    }

    const results: LevelResult[] = [];
    for (const n of levels) {
      const runs: Record<string, ClosedRun[]> = { [real.name]: [], [baseline.name]: [] };
      for (let r = 0; r < rounds; r++)
        for (const t of r % 2 === 0 ? [real, baseline] : [baseline, real])
          runs[t.name]!.push(await closedLoop(t, n, Math.ceil(opts.events / rounds)));
      const ratios = runs[real.name]!.map(
        (run, r) => eventsPerSec(run) / eventsPerSec(runs[baseline.name]![r]!),
      );
      const level: LevelResult = {
        senders: n,
        relay: combine(runs[real.name]!),
        baseline: combine(runs[baseline.name]!),
        ratio: round(median(ratios), 3),
        ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
      };
      for (const t of [real, baseline]) {
        const side = t === real ? level.relay : level.baseline;
        opts.progress(
          `relay alone: ${t.name}, ${n} sender(s): ${side.eventsPerSec} events/s, p50 ${side.p50Ms} ms, p99 ${side.p99Ms} ms, relay CPU ${side.relayCpuMsPerEvent} ms/event`,
        );
      }
      opts.progress(`relay alone:   ratio ${level.ratio} (rounds ${level.ratioRange.join(" to ")})`);
      results.push(level);
    }

    let openLoop: RelayAloneResult["openLoop"];
    if (opts.openLoop) {
      const { ratePerSec, seconds } = opts.openLoop;
      const side: Record<string, OpenLoopResult> = {};
      for (const t of [real, baseline]) {
        opts.progress(`relay alone: ${t.name}: open loop, ${ratePerSec} events/s offered for ${seconds} s`);
        side[t.name] = await openLoopRun(t, ratePerSec, seconds);
        const o = side[t.name]!;
        opts.progress(
          `relay alone:   ${o.achievedPerSec} events/s achieved, p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms, max ${o.maxMs} ms`,
        );
      }
      openLoop = { seconds, relay: side[real.name]!, baseline: side[baseline.name]! };
    }

    const ratios = Object.fromEntries(results.map((l) => [`ratio${l.senders}`, l.ratio]));
    return {
      ciphertextBytes,
      levels: results,
      ...ratios,
      ...(openLoop
        ? { openLoop, ...(opts.openLoop?.ratePerSec === 1000 ? { p99MsAt1000: openLoop.relay.p99Ms } : {}) }
        : {}),
    };
  } finally {
    for (const c of cleanup.reverse()) await c();
    await net.close();
    rmSync(baselineDir, { recursive: true, force: true });
  }
}

/**
 * A handler's device as a bench sender: it sends one signal the ordinary way (so the ciphertext
 * is a real MLS message of its caucus's current epoch), and the bench reuses that ciphertext
 * and the device's bearer token. The relay stores ciphertext it cannot read, so a copy under a
 * fresh event id costs it exactly what a new message would.
 */
export async function madeSender(party: Party): Promise<RelaySender> {
  await party.send({ text: signalText(0) });
  const page = await party.session.http.call("listEvents", {
    params: { caucusId: party.caucusId },
    query: { after: 0 },
  });
  const own = page.events.filter((e) => e.kind === "application" && e.senderDeviceId === party.deviceId);
  const last = own[own.length - 1];
  if (!last) throw new Error("the handler's signal is not in its caucus");
  return {
    caucusId: party.caucusId,
    token: await party.session.getToken(),
    epoch: last.epoch,
    ciphertext: ciphertextOf(last) ?? "",
  };
}

interface ClosedRun extends LoadRun {
  relayCpuMs: number;
}

async function closedLoop(t: Target, senders: number, events: number): Promise<ClosedRun> {
  const cpuBefore = await t.process.cpuMs();
  const run = await runLoad(t.senders.slice(0, senders), Math.ceil(events / senders));
  return { ...run, relayCpuMs: (await t.process.cpuMs()) - cpuBefore };
}

const eventsPerSec = (run: LoadRun): number => run.latenciesMs.length / (run.elapsedMs / 1000);

/** One side of a level over its rounds. */
function combine(runs: readonly ClosedRun[]): SideResult {
  const sorted = runs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const sum = (f: (r: ClosedRun) => number) => runs.reduce((total, r) => total + f(r), 0);
  return {
    events: sorted.length,
    eventsPerSec: round(median(runs.map(eventsPerSec))),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    relayCpuMsPerEvent: round(sum((r) => r.relayCpuMs) / sorted.length, 3),
    clientCpuMsPerEvent: round(sum((r) => r.cpuMs) / sorted.length, 3),
  };
}

async function openLoopRun(t: Target, ratePerSec: number, seconds: number): Promise<OpenLoopResult> {
  const cpuBefore = await t.process.cpuMs();
  const run: LoadRun = await runOpenLoop(
    (i) => t.senders[i % t.senders.length]!(),
    ratePerSec,
    seconds * 1000,
  );
  const relayCpuMs = (await t.process.cpuMs()) - cpuBefore;
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  return {
    offeredPerSec: ratePerSec,
    achievedPerSec: round(sorted.length / (run.elapsedMs / 1000)),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1]!),
    relayCpuMsPerEvent: round(relayCpuMs / sorted.length, 3),
  };
}
