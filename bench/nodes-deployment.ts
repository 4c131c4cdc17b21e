import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { limitsEnv } from "../src/server/limits/limits-config.js";
import { loadTestLimits } from "../src/server/limits/load-test-limits.js";
import { startNetwork, type TestNetwork } from "../test/helpers/network.js";
import { startRelayNode, type RelayNode } from "../test/helpers/services.js";
import { PushSockets } from "./push-sockets.js";
import { madeSender } from "./relay-alone.js";
import { RelayClient } from "./relay-client.js";

/**
 * One deployment of the nodes bench: `nodes` relay nodes (`backchannel serve`, each a process of
 * its own) on a database of its own in the shared PostgreSQL cluster, with the shared NATS for
 * fan-out, and the devices that load it.
 *
 * Devices come in channels of two parties (a mediator and a handler per party, one caucus each),
 * so that every caucus's members can be placed: channel j's two handlers post to node j mod N,
 * and the three devices of the channel hold their push sockets on the next node, (j + 1) mod N.
 * With two nodes or more, every push therefore crosses NATS from the node that stored the event
 * to the node holding the socket; with one node, it stays in-process (NATS still gets every
 * publish: the node cannot know that no other node holds a socket).
 */
export interface DeploymentOptions {
  nodes: number;
  /** Concurrent senders: an even number (two per channel). */
  senders: number;
  /** A database of this deployment's own (createDatabase). */
  databaseUrl: string;
  natsUrl: string;
  /** The relay's CLI compiled from the working tree (sockets-relay.ts compileCli). */
  cliMain: string;
  /** Write a --cpu-prof profile of each node here (on a clean shutdown). */
  cpuProfDir?: string;
}

export interface Deployment {
  nodes: RelayNode[];
  /** One append function per sender, each posting to its own node. */
  senders: (() => Promise<unknown>)[];
  /** Appends acknowledged through `senders` so far. */
  readonly appended: number;
  /** Senders per node, in node order. */
  sendersPerNode: number[];
  pushes: PushSockets;
  /** Event frames a stored event pushes: one per member of its caucus (the mediator and the handler). */
  framesPerEvent: number;
  close(): Promise<void>;
}

export async function startDeployment(opts: DeploymentOptions): Promise<Deployment> {
  if (opts.senders < 2 || opts.senders % 2 !== 0) throw new Error("senders must be an even number ≥ 2");
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-bench-nodes-"));
  const nodes: RelayNode[] = [];
  const networks: TestNetwork[] = [];
  const pushes = new PushSockets();
  const close = async (): Promise<void> => {
    pushes.close();
    for (const net of networks) await net.close();
    // SIGTERM: the node closes cleanly, so --cpu-prof gets to write its profile.
    for (const node of nodes) await node.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const env = {
      BACKCHANNEL_DATABASE_URL: opts.databaseUrl,
      BACKCHANNEL_NATS_URL: opts.natsUrl,
      BACKCHANNEL_DATA_DIR: dataDir,
      ...limitsEnv(loadTestLimits),
    };
    const execArgv = opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
    // All at once: the migrations' advisory lock lets one migrate while the others wait.
    await startAll(
      Array.from({ length: opts.nodes }, () => startRelayNode(env, { cliMain: opts.cliMain, execArgv })),
      nodes,
    );
    const channels = opts.senders / 2;
    const senders: (() => Promise<unknown>)[] = [];
    let appended = 0;
    const sendersPerNode = nodes.map(() => 0);
    await startAll(
      Array.from({ length: channels }, (_, j) => {
        const home = nodes[j % nodes.length]!;
        return startNetwork({
          parties: ["A", "B"],
          topic: `bench nodes ${j}`,
          // A relay running elsewhere: closing the network leaves it alone.
          server: {
            url: home.url,
            port: home.port,
            dataDir: mkdtempSync(join(dataDir, "net-")),
            close: async () => {},
          },
        });
      }),
      networks,
    );
    for (const [j, net] of networks.entries()) {
      const home = nodes[j % nodes.length]!;
      const away = nodes[(j + 1) % nodes.length]!;
      const client = new RelayClient(home.url);
      const handlers = [net.handlers.A![0]!, net.handlers.B![0]!];
      for (const handler of handlers) {
        const append = client.appender(await madeSender(handler));
        senders.push(() => append().then(() => appended++));
        sendersPerNode[j % nodes.length]!++;
      }
      for (const device of [net.mediator, ...handlers])
        await pushes.open(away.url, await device.session.getToken());
    }
    return {
      nodes,
      senders,
      get appended() {
        return appended;
      },
      sendersPerNode,
      pushes,
      framesPerEvent: 2,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Waits for every start; those that started go into `into` (where the caller's cleanup finds
 * them, so a failed start leaves no process behind), then the first failure, if any, is thrown.
 */
export async function startAll<T>(starts: readonly Promise<T>[], into: T[]): Promise<void> {
  const settled = await Promise.allSettled(starts);
  for (const s of settled) if (s.status === "fulfilled") into.push(s.value);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
}

/**
 * A fresh database in the cluster at `clusterUrl` (dropped first if a previous run left it);
 * returns its URL. One at a time: CREATE DATABASE copies a template that must be left alone.
 */
export async function createDatabase(clusterUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: clusterUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
