import type { PrivateNats, PrivatePostgres } from "../test/helpers/services.js";
import { runLoad } from "./load.js";
import type { Deployment } from "./nodes-deployment.js";
import { readProcs, treeCpuMs } from "./proc-cpu.js";
import { median, percentile, round } from "./stats.js";

/** What one timed round of one deployment spent. */
export interface Round {
  latenciesMs: number[];
  elapsedMs: number;
  /** When the run began and ended, µs on the monotonic clock (the one V8's CPU profiles use). */
  windowUs: [number, number];
  relayCpuMs: number;
  postgresCpuMs: number;
  natsCpuMs: number;
  clientCpuMs: number;
}

/**
 * One closed-loop run of a deployment and the CPU every process of the deployment spent, read
 * from /proc before and after (proc-cpu.ts): its relay nodes, the whole PostgreSQL cluster (the
 * postmaster and every backend and worker), the NATS server. The "after" reading waits for the
 * run's pushes to arrive (2 s at most), so their fan-out is in it; the client's CPU is this
 * process's over the same span.
 */
export async function timedRound(
  d: Deployment,
  services: { pg: PrivatePostgres; nats: PrivateNats },
  perSender: number,
): Promise<Round> {
  const pids = {
    relay: d.nodes.map((n) => n.pid()!),
    postgres: services.pg.pid(),
    nats: services.nats.pid()!,
  };
  const spent = (procs: ReturnType<typeof readProcs>) => ({
    relay: pids.relay.reduce((sum, pid) => sum + treeCpuMs(procs, pid), 0),
    postgres: treeCpuMs(procs, pids.postgres),
    nats: treeCpuMs(procs, pids.nats),
  });
  const before = spent(readProcs());
  const clientBefore = process.cpuUsage();
  const startUs = monotonicUs();
  const run = await runLoad(d.senders, perSender);
  await d.pushes.waitFor(d.appended * d.framesPerEvent, 2000);
  const client = process.cpuUsage(clientBefore);
  const after = spent(readProcs());
  return {
    latenciesMs: run.latenciesMs,
    elapsedMs: run.elapsedMs,
    windowUs: [startUs, monotonicUs()],
    relayCpuMs: after.relay - before.relay,
    postgresCpuMs: after.postgres - before.postgres,
    natsCpuMs: after.nats - before.nats,
    clientCpuMs: (client.user + client.system) / 1000,
  };
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);
const eventsPerSec = (r: Round): number => r.latenciesMs.length / (r.elapsedMs / 1000);
/** The deployment's CPU: nodes, PostgreSQL and NATS (not the load client). */
const cpuMs = (r: Round): number => r.relayCpuMs + r.postgresCpuMs + r.natsCpuMs;
const cpuPerEvent = (r: Round): number => cpuMs(r) / r.latenciesMs.length;
const total = (runs: readonly Round[], f: (r: Round) => number): number =>
  runs.reduce((sum, r) => sum + f(r), 0);
const range = (xs: readonly number[], digits: number): [number, number] => [
  round(Math.min(...xs), digits),
  round(Math.max(...xs), digits),
];

export const describeRound = (r: Round): string => {
  const per = (ms: number) => round(ms / r.latenciesMs.length, 2);
  return (
    `${Math.round(eventsPerSec(r))} events/s, ${round(cpuPerEvent(r), 3)} ms CPU/event ` +
    `(relay ${per(r.relayCpuMs)}, PostgreSQL ${per(r.postgresCpuMs)})`
  );
};

export interface NodesLevel {
  nodes: number;
  sendersPerNode: number[];
  events: number;
  /** Median over the rounds, with the lowest and highest. */
  eventsPerSec: number;
  eventsPerSecRange: [number, number];
  /** Over every append of every round, from the post to its ack. */
  p50Ms: number;
  p99Ms: number;
  /** CPU of the whole deployment per event (nodes + PostgreSQL + NATS), over all rounds. */
  cpuMsPerEvent: number;
  /** The same per round: lowest and highest. */
  cpuMsPerEventRange: [number, number];
  relayCpuMsPerEvent: number;
  postgresCpuMsPerEvent: number;
  natsCpuMsPerEvent: number;
  /** The load client (this process: the senders and the push sockets), not part of the deployment. */
  clientCpuMsPerEvent: number;
  /** The deployment's CPU over the timed runs' wall time: how many cores it kept busy. */
  deploymentCores: number;
  /** Event frames received on the push sockets ÷ frames the acknowledged appends should have pushed. */
  pushDelivered: number;
  pushFrames: { expected: number; received: number; socketsDropped: number };
}

/** A deployment's rounds in one level; call once its pushes have had time to arrive. */
export function summarize(d: Deployment, runs: readonly Round[]): NodesLevel {
  const events = total(runs, (r) => r.latenciesMs.length);
  const perEvent = (f: (r: Round) => number) => round(total(runs, f) / events, 3);
  const sorted = runs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const rates = runs.map(eventsPerSec);
  const expected = d.appended * d.framesPerEvent;
  return {
    nodes: d.nodes.length,
    sendersPerNode: d.sendersPerNode,
    events,
    eventsPerSec: round(median(rates)),
    eventsPerSecRange: range(rates, 2),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    cpuMsPerEvent: perEvent(cpuMs),
    cpuMsPerEventRange: range(runs.map(cpuPerEvent), 3),
    relayCpuMsPerEvent: perEvent((r) => r.relayCpuMs),
    postgresCpuMsPerEvent: perEvent((r) => r.postgresCpuMs),
    natsCpuMsPerEvent: perEvent((r) => r.natsCpuMs),
    clientCpuMsPerEvent: perEvent((r) => r.clientCpuMs),
    deploymentCores: round(total(runs, cpuMs) / total(runs, (r) => r.elapsedMs), 2),
    pushDelivered: round(d.pushes.events / expected, 4),
    pushFrames: { expected, received: d.pushes.events, socketsDropped: d.pushes.dropped },
  };
}

/**
 * `efficiencyN`: events per CPU-second with N nodes ÷ with one, i.e. cpuMsPerEvent(1) ÷
 * cpuMsPerEvent(N) over all rounds (1 is linear per CPU spent). `speedupN`: eventsPerSec(N) ÷
 * eventsPerSec(1), the median of the rounds' ratios. Each with the lowest and highest round's
 * ratio in `…Range` (round k of N against round k of one node, run back to back).
 */
export type NodesRatios = Record<`${"efficiency" | "speedup"}${number}`, number> &
  Record<`${"efficiency" | "speedup"}${number}Range`, [number, number]>;

/** Every count's ratios against the first count's (`rounds[i]` belongs to `counts[i]`). */
export function ratios(counts: readonly number[], rounds: readonly (readonly Round[])[]): NodesRatios {
  const out = {} as NodesRatios;
  const ref = rounds[0]!;
  const cpuPer = (runs: readonly Round[]) => total(runs, cpuMs) / total(runs, (r) => r.latenciesMs.length);
  for (const [i, n] of counts.entries()) {
    if (i === 0) continue;
    const runs = rounds[i]!;
    const speedups = runs.map((r, k) => eventsPerSec(r) / eventsPerSec(ref[k]!));
    out[`efficiency${n}`] = round(cpuPer(ref) / cpuPer(runs), 3);
    out[`efficiency${n}Range`] = range(
      runs.map((r, k) => cpuPerEvent(ref[k]!) / cpuPerEvent(r)),
      3,
    );
    out[`speedup${n}`] = round(median(speedups), 3);
    out[`speedup${n}Range`] = range(speedups, 3);
  }
  return out;
}
