import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Mediator,
  MemoryStateStore,
  Party,
  type ChannelView,
  type Platform,
  type StateStore,
} from "../../src/sdk/index.js";
import { nodePlatform } from "../../src/sdk/node.js";
import type { AppOptions } from "../../src/server/config.js";
import { loadTestLimits } from "../../src/server/limits/load-test-limits.js";
import { startServer, type RunningServer } from "../../src/server/start-server.js";
import { startHostileRelay, type HostileRelay } from "./hostile-relay.js";

/**
 * A real relay on a real port with real sdk clients, one per device (like atproto's TestNetwork).
 * Stores are in memory to keep the suite fast; the file keystore has its own tests.
 */
export interface TestNetwork {
  server: RunningServer;
  dataDir: string;
  mediator: Mediator;
  channel: ChannelView;
  /** caucus id per party name */
  caucus: Record<string, string>;
  /** handler devices per party name, all admitted */
  handlers: Record<string, Party[]>;
  /** Another handler for a party: invited, joined and admitted. */
  addHandler(party: string): Promise<Party>;
  /**
   * With `hostile: true`, each device talks to the relay through its own hostile proxy (see
   * hostile-relay.ts), so a test can lie to one device while the others see the truth.
   */
  relayOf(device: Mediator | Party): HostileRelay;
  close(): Promise<void>;
}

export async function startNetwork(
  opts: {
    parties?: string[];
    handlersPerParty?: number;
    topic?: string;
    logger?: AppOptions["logger"];
    hostile?: boolean;
    /** How devices log in and reach the relay (default: nodePlatform). */
    platform?: Platform;
    /** A relay already running (e.g. in another process); default: one started here. */
    server?: RunningServer;
    /** The relay started here stores in this PostgreSQL (postgres:// URL) instead of SQLite. */
    databaseUrl?: string;
    /** Where each device keeps its state (default: in memory); `who` is "mediator" or the party. */
    store?: (who: string) => StateStore;
    /**
     * The address each device talks to (default: the server's): `who` is "mediator" or the
     * party, `n` counts the devices made so far (0 for the mediator), e.g. to spread the devices
     * over several relay nodes.
     */
    relayUrl?: (who: string, n: number) => string;
  } = {},
): Promise<TestNetwork> {
  const parties = opts.parties ?? ["A", "B"];
  const dataDir = opts.server?.dataDir ?? mkdtempSync(join(tmpdir(), "backchannel-test-"));
  const server =
    opts.server ??
    (await startServer({
      port: 0,
      dataDir,
      limits: loadTestLimits,
      // Open on purpose: the network's mediator registers without a token (closed registration,
      // the default, is tested in test/registration.test.ts).
      registration: "open",
      logger: opts.logger ?? false,
      ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
    }));
  const relays = new Map<Mediator | Party, HostileRelay>();
  let devices = 0;
  const proxyUrl = async (who: string): Promise<{ url: string; relay?: HostileRelay }> => {
    const url = opts.relayUrl?.(who, devices++) ?? server.url;
    if (!opts.hostile) return { url };
    const relay = await startHostileRelay(url);
    return { url: relay.url, relay };
  };
  const mediatorLink = await proxyUrl("mediator");
  const mediator = await Mediator.create({
    serverUrl: mediatorLink.url,
    name: "Mediator",
    store: opts.store?.("mediator") ?? new MemoryStateStore(),
    platform: opts.platform ?? nodePlatform,
  });
  if (mediatorLink.relay) relays.set(mediator, mediatorLink.relay);
  const channel = await mediator.createChannel({ topic: opts.topic ?? "no new strikes", parties });
  const caucus = Object.fromEntries(channel.caucuses.map((c) => [c.partyName, c.caucusId]));
  const handlers: Record<string, Party[]> = Object.fromEntries(parties.map((p) => [p, []]));
  const addHandler = async (party: string): Promise<Party> => {
    const { code } = await mediator.invite(caucus[party]!);
    const link = await proxyUrl(party);
    const p = await Party.join({
      inviteCode: code,
      store: opts.store?.(party) ?? new MemoryStateStore(),
      platform: opts.platform ?? nodePlatform,
      serverUrl: link.url,
    });
    if (link.relay) relays.set(p, link.relay);
    await admitAfterComparing(mediator, p);
    if (!(await p.waitUntilJoined(10_000))) throw new Error(`handler of ${party} was not admitted`);
    handlers[party]!.push(p);
    return p;
  };
  for (const p of parties) for (let i = 0; i < (opts.handlersPerParty ?? 1); i++) await addHandler(p);
  // Every device catches up (channel info etc.).
  await mediator.sync();
  for (const list of Object.values(handlers)) for (const h of list) await h.sync();
  return {
    server,
    dataDir,
    mediator,
    channel,
    caucus,
    handlers,
    addHandler,
    relayOf(device) {
      const relay = relays.get(device);
      if (!relay) throw new Error("this network was started without hostile relays (hostile: true)");
      return relay;
    },
    async close() {
      for (const relay of relays.values()) await relay.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * What the mediator does before admitting a handler: finds its device among the pending
 * admissions, compares the verification code with the one the handler's device shows (out of
 * band, in real life), and admits it.
 */
export async function admitAfterComparing(mediator: Mediator, handler: Party): Promise<void> {
  await mediator.sync();
  const pending = mediator.pendingAdmissions().find((a) => a.deviceId === handler.deviceId);
  if (!pending) throw new Error(`handler ${handler.deviceId} is not waiting for admission`);
  if (pending.verificationCode !== handler.verificationCode())
    throw new Error("verification codes differ: a key was substituted");
  await mediator.admit(pending.caucusId, pending.deviceId);
}

/**
 * A handler's device joins a caucus on an invite the mediator made with `confirm: false` (no
 * codes compared), through `serverUrl` when given (default: the relay the invite names).
 */
export async function joinUnconfirmed(
  mediator: Mediator,
  caucusId: string,
  opts: { platform?: Platform; serverUrl?: string } = {},
): Promise<Party> {
  const { code } = await mediator.invite(caucusId, { confirm: false });
  const party = await Party.join({
    inviteCode: code,
    store: new MemoryStateStore(),
    platform: opts.platform ?? nodePlatform,
    serverUrl: opts.serverUrl,
  });
  await mediator.sync();
  if (!(await party.waitUntilJoined(20_000))) throw new Error("handler was not admitted");
  return party;
}
