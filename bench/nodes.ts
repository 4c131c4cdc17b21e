import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startPrivateNats, startPrivatePostgres, type PrivateNats } from "../test/helpers/services.js";
import { intEnv } from "./env.js";
import { runLoad } from "./load.js";
import { createDatabase, startAll, startDeployment, type Deployment } from "./nodes-deployment.js";
import {
  describeRound,
  ratios,
  summarize,
  timedRound,
  type NodesLevel,
  type NodesRatios,
  type Round,
} from "./nodes-rounds.js";
import { compileCli } from "./sockets-relay.js";

/**
 * Several relay nodes (issue 9): events/s and CPU per event with 1, 2 and 3 `backchannel serve`
 * processes on one PostgreSQL and one NATS, on one machine. The nodes share the machine's cores,
 * so the throughput says little about scaling out; the question is what each node more costs:
 * the CPU the whole deployment spends per event (nodes, PostgreSQL, NATS), against one node.
 */
export interface NodesOptions {
  /** Timed appends per deployment, shared among its rounds. */
  events: number;
  /** Appends per node before timing, so that every node's code is optimised (JIT). */
  warmup: number;
  /** Concurrent senders (closed loop), an even number: per node, or for every deployment in all (`load`). */
  senders: number;
  /**
   * "per-node" (the default): each node gets `senders`, so N nodes carry N times the load one node
   * carries, as a deployment does when it scales out because its load grew; efficiencyN is then
   * "linear per CPU spent" in the sense. "total": every deployment gets `senders` in all,
   * so each of N nodes sees 1/N of the concurrency, and batches smaller (bench/README.md).
   */
  load: "per-node" | "total";
  /** Rounds per deployment, the deployments taking turns (1 2 3, 3 2 1, …) so all see the same noise. */
  rounds: number;
  /** Node counts to compare; the first is the reference (default 1, 2, 3). */
  nodeCounts?: readonly number[];
  /** Write a --cpu-prof profile of every node here, under n<N>/. */
  cpuProfDir?: string;
  progress(line: string): void;
}

export type NodesResult = {
  senders: number;
  load: NodesOptions["load"];
  rounds: number;
  levels: NodesLevel[];
} & NodesRatios;

export async function measureNodes(opts: NodesOptions): Promise<NodesResult> {
  const counts = opts.nodeCounts ?? [1, 2, 3];
  opts.progress("nodes: compiling the relay from the working tree");
  const cliMain = compileCli();
  opts.progress("nodes: a private PostgreSQL cluster and NATS server");
  const pg = await startPrivatePostgres();
  const deployments: Deployment[] = [];
  let nats: PrivateNats | undefined;
  try {
    nats = await startPrivateNats();
    const services = { pg, nats };
    const databases: string[] = [];
    for (const n of counts) databases.push(await createDatabase(pg.url, `bench_nodes_${n}`));
    opts.progress(
      `nodes: ${counts.join(", ")} node(s), a database each, ${opts.senders} senders ` +
        `${opts.load === "per-node" ? "per node" : "in all"} (channels of two parties)`,
    );
    // Side by side, and all kept running: the rounds take turns, and an idle deployment costs
    // next to nothing (its nodes are not counted; its share of PostgreSQL's and NATS's is noise).
    await startAll(
      counts.map((n, i) =>
        startDeployment({
          nodes: n,
          senders: opts.load === "per-node" ? opts.senders * n : opts.senders,
          databaseUrl: databases[i]!,
          natsUrl: services.nats.url,
          cliMain,
          ...(opts.cpuProfDir ? { cpuProfDir: join(opts.cpuProfDir, `n${n}`) } : {}),
        }),
      ),
      deployments,
    );

    // As many appends per node whatever the count, each node's process having its own JIT to warm:
    // one node's own CPU per append went from 1.4 to 0.85 ms over its first 4,000 appends here.
    // 1,000 (the default) keeps the phase near a minute; the timed rounds then warm one node
    // faster than three, which biases efficiencyN low, if anything. All deployments at once:
    // nothing is measured here.
    opts.progress(`nodes: warm-up, ${opts.warmup} appends per node, every deployment at once`);
    await Promise.all(
      deployments.map((d) =>
        runLoad(d.senders, Math.ceil((opts.warmup * d.nodes.length) / d.senders.length)),
      ),
    );

    const perSender = (d: Deployment) => Math.max(1, Math.ceil(opts.events / opts.rounds / d.senders.length));
    const rounds: Round[][] = deployments.map(() => []);
    for (let r = 0; r < opts.rounds; r++) {
      const order = deployments.map((_, i) => i);
      for (const i of r % 2 === 0 ? order : order.reverse())
        rounds[i]!.push(await timedRound(deployments[i]!, services, perSender(deployments[i]!)));
      opts.progress(
        `nodes: round ${r + 1}/${opts.rounds}: ` +
          rounds.map((runs, i) => `${counts[i]} node(s) ${describeRound(runs[r]!)}`).join("; "),
      );
    }

    if (opts.cpuProfDir)
      for (const [i, runs] of rounds.entries()) writeWindows(join(opts.cpuProfDir, `n${counts[i]}`), runs);

    const levels: NodesLevel[] = [];
    for (const [i, d] of deployments.entries()) {
      await d.pushes.waitFor(d.appended * d.framesPerEvent, 5000);
      const l = summarize(d, rounds[i]!);
      opts.progress(
        `nodes: ${l.nodes} node(s): ${l.eventsPerSec} events/s (${l.eventsPerSecRange.join("–")}), ` +
          `${l.cpuMsPerEvent} ms CPU/event (relay ${l.relayCpuMsPerEvent}, PostgreSQL ${l.postgresCpuMsPerEvent}, ` +
          `NATS ${l.natsCpuMsPerEvent}; client ${l.clientCpuMsPerEvent}), pushes delivered ${l.pushDelivered}`,
      );
      levels.push(l);
    }
    return { senders: opts.senders, load: opts.load, rounds: opts.rounds, levels, ...ratios(counts, rounds) };
  } finally {
    for (const d of deployments) await d.close();
    await nats?.kill();
    pg.destroy();
  }
}

/**
 * The timed rounds' windows beside the nodes' profiles: `tsx bench/profile-top.ts DIR/n3` then
 * counts only what the nodes did while being measured, per event.
 */
function writeWindows(dir: string, runs: readonly Round[]): void {
  mkdirSync(dir, { recursive: true });
  const events = runs.reduce((sum, r) => sum + r.latenciesMs.length, 0);
  writeFileSync(join(dir, "rounds.json"), JSON.stringify({ windowsUs: runs.map((r) => r.windowUs), events }));
}

/** The phase's settings from BENCH_NODES_* (bench/README.md lists them). */
export function nodesOptionsFromEnv(progress: (line: string) => void): NodesOptions {
  const senders = intEnv("BENCH_NODES_SENDERS", 12, 2);
  if (senders % 2 !== 0)
    throw new Error(`BENCH_NODES_SENDERS must be even (two per channel), got ${senders}`);
  const profDir = process.env.BENCH_NODES_PROF;
  const load = process.env.BENCH_NODES_LOAD ?? "per-node";
  const counts = process.env.BENCH_NODES_COUNTS?.trim();
  const nodeCounts = counts ? counts.split(",").map((c) => Number(c.trim())) : undefined;
  if (nodeCounts?.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`BENCH_NODES_COUNTS must list node counts such as 1,2,3, got ${counts}`);
  if (load !== "per-node" && load !== "total")
    throw new Error(`BENCH_NODES_LOAD must be per-node or total, got ${load}`);
  return {
    events: intEnv("BENCH_NODES_EVENTS", 2400, 1),
    warmup: intEnv("BENCH_NODES_WARMUP", 1000, 0),
    senders,
    load,
    rounds: intEnv("BENCH_NODES_ROUNDS", 4, 1),
    ...(profDir ? { cpuProfDir: profDir } : {}),
    ...(nodeCounts ? { nodeCounts } : {}),
    progress,
  };
}

// `npx tsx bench/nodes.ts` runs this phase alone and prints its JSON.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await measureNodes(nodesOptionsFromEnv((line) => process.stderr.write(`${line}\n`)));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
