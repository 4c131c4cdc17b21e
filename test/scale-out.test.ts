import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDemo } from "../src/cli/demo.js";
import type { Mediator, Party, TranscriptEntry } from "../src/sdk/index.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";
import {
  startFailoverProxy,
  startPrivateNats,
  startPrivatePostgres,
  startRelayNode,
  type FailoverProxy,
  type PrivateNats,
  type PrivatePostgres,
  type RelayNode,
} from "./helpers/services.js";

/**
 * Issue 9's proof: three relay nodes (`backchannel serve` processes) on one PostgreSQL and one
 * NATS. The acceptance story with each device on another node; then devices spread over the nodes
 * behind failover proxies (a deployment's reverse proxy). Under a
 * load of BACKCHANNEL_SCALE_EVENTS signals (default 20,000) one node is killed with SIGKILL and
 * PostgreSQL crashes and restarts; afterwards every acknowledged event is at every member exactly
 * once, in one order, and every transcript verifies. PostgreSQL and NATS are the test's own
 * (services.ts), so crashing them disturbs no other test file.
 */
const EVENTS = Number(process.env.BACKCHANNEL_SCALE_EVENTS ?? 20_000);
/**
 * Six caucuses with one sender each, spread over the nodes. (Two handlers racing into one caucus
 * is send-path.test.ts's subject: under a flat-out load the one that just won keeps winning, and
 * the other syncs and tries again, which would make this test slow without proving more here.)
 */
const PARTIES = ["A", "B", "C", "D", "E", "F"];
const HANDLERS_PER_PARTY = 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("three relay nodes on PostgreSQL and NATS", () => {
  let pg: PrivatePostgres;
  let nats: PrivateNats;
  let nodes: RelayNode[] = [];
  const proxies: FailoverProxy[] = [];
  let net: TestNetwork;
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-scale-"));

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    nats = await startPrivateNats();
    const env = {
      BACKCHANNEL_DATABASE_URL: pg.url,
      BACKCHANNEL_NATS_URL: nats.url,
      BACKCHANNEL_DATA_DIR: dataDir,
    };
    // All at once: the migrations' advisory lock lets one migrate while the others wait.
    nodes = await Promise.all([0, 1, 2].map(() => startRelayNode(env)));
    for (let i = 0; i < nodes.length; i++)
      proxies.push(
        await startFailoverProxy(
          nodes.map((n) => n.port),
          i,
        ),
      );
    net = await startNetwork({
      parties: PARTIES,
      handlersPerParty: HANDLERS_PER_PARTY,
      server: { url: proxies[0]!.url, port: 0, dataDir, close: () => Promise.resolve() },
      // The mediator behind node 0's proxy, each handler behind the next node's.
      relayUrl: (_who, n) => proxies[n % proxies.length]!.url,
    });
  }, 120_000);

  afterAll(async () => {
    await net?.close();
    for (const p of proxies) await p.close();
    for (const n of nodes) await n.kill();
    await nats?.kill();
    pg?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("plays the acceptance story with the mediator and each handler on a different node", async () => {
    const result = await runDemo({
      running: { urls: nodes.map((n) => n.url), databaseUrl: pg.url, schema: "public" },
    });
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.map((c) => c.name)).toContain(
      "B's device heard of the conveyance by push, across relay nodes",
    );
    expect(result.ok).toBe(true);
  });

  it(
    `keeps every acknowledged event of ${EVENTS} at every member exactly once, in one order, through a killed node and a PostgreSQL crash`,
    async () => {
      const senders: { party: string; handler: Party }[] = PARTIES.flatMap((party) =>
        net.handlers[party]!.map((handler) => ({ party, handler })),
      );
      const acked = new Map<string, string>(); // eventId → caucusId
      let taken = 0;
      let failures = 0;
      let lastFailure = "";

      const send = async (handler: Party, caucusId: string, n: number): Promise<void> => {
        // The same id on every attempt: a retry of a send whose answer was lost is not stored twice.
        const eventId = randomUUID();
        // As a device would: keep trying through the outages, backing off to a second between
        // tries, for up to three minutes (a loaded 2-core CI machine restarts slowly).
        const giveUpAt = Date.now() + 180_000;
        for (let attempt = 1; ; attempt++) {
          try {
            const entry = await handler.send({ text: `load ${n} ✓ ${"x".repeat(n % 64)}`, eventId });
            expect(entry.eventId).toBe(eventId);
            acked.set(eventId, caucusId);
            return;
          } catch (e) {
            failures++;
            lastFailure =
              e instanceof Error ? `${(e as { code?: string }).code ?? ""} ${e.message}` : String(e);
            if (Date.now() > giveUpAt)
              throw new Error(`send ${n} failed ${attempt} times in 3 minutes; last: ${lastFailure}`);
            await sleep(Math.min(50 * attempt, 1_000));
          }
        }
      };
      const started = Date.now();
      let loadOver = false;
      const load = Promise.all(
        senders.map(async ({ party, handler }) => {
          while (taken < EVENTS) {
            const n = taken++;
            await send(handler, net.caucus[party]!, n);
          }
        }),
      ).finally(() => (loadOver = true));

      // The faults, each once the load has gone a quarter further.
      const until = async (fraction: number) => {
        while (acked.size < EVENTS * fraction && !loadOver) await sleep(20);
      };
      const marks: string[] = [];
      const mark = (what: string) => marks.push(`${what} at ${Date.now() - started} ms, ${acked.size} acked`);
      const faults = (async () => {
        await until(0.25);
        mark("node 2 killed");
        await nodes[1]!.kill("SIGKILL");
        await until(0.45);
        mark("PostgreSQL crashed");
        pg.stop("immediate"); // a crash: recovery from the WAL at the next start
        await sleep(300);
        pg.start();
        mark("PostgreSQL back");
        await until(0.7);
        await nodes[1]!.restart();
        mark("node 2 back");
      })();
      await Promise.all([load, faults]);
      const loadMs = Date.now() - started;
      expect(acked.size).toBe(EVENTS);
      // The faults were felt, and the devices got through them.
      expect(failures).toBeGreaterThan(0);

      // Every device catches up (PostgreSQL may still be recovering its connections).
      const devices: (Mediator | Party)[] = [net.mediator, ...senders.map((s) => s.handler)];
      for (const d of devices)
        for (let attempt = 1; ; attempt++) {
          try {
            await d.sync();
            break;
          } catch (e) {
            if (attempt >= 100) throw e;
            await sleep(100);
          }
        }

      const key = (e: TranscriptEntry) => `${e.seq} ${e.eventId} ${e.hash}`;
      for (const party of PARTIES) {
        const caucusId = net.caucus[party]!;
        const full = net.mediator.entries(caucusId);
        // One order: seqs 1..n without a gap, and every member's view is the mediator's from its
        // join on.
        expect(full.map((e) => e.seq)).toEqual(full.map((_, i) => i + 1));
        for (const handler of net.handlers[party]!) {
          const view = handler.entries(caucusId);
          expect(view.length).toBeGreaterThan(0);
          expect(view.map(key)).toEqual(full.slice(full.length - view.length).map(key));
        }
        // Exactly once: each acknowledged event of this caucus appears once, and nothing appears twice.
        const ids = full.map((e) => e.eventId);
        expect(new Set(ids).size).toBe(ids.length);
        const mine = [...acked].filter(([, c]) => c === caucusId).map(([id]) => id);
        const present = new Set(ids);
        expect(mine.filter((id) => !present.has(id))).toEqual([]);
        for (const handler of net.handlers[party]!) {
          const seen = new Set(handler.entries(caucusId).map((e) => e.eventId));
          expect(mine.filter((id) => !seen.has(id))).toEqual([]);
        }
        // Nothing was skipped as unreadable.
        expect(full.filter((e) => e.skipped)).toEqual([]);
      }

      // And every transcript verifies against what the relay serves now.
      for (const d of devices) for (const report of await d.verify()) expect(report.ok).toBe(true);
      process.stderr.write(
        `scale-out: ${EVENTS} events in ${loadMs} ms (${Math.round((EVENTS / loadMs) * 1000)}/s), ` +
          `${failures} failed attempts retried (last: ${lastFailure}), checked in ${Date.now() - started - loadMs} ms; ` +
          `${marks.join("; ")}\n`,
      );
    },
    15 * 60_000,
  );
});
