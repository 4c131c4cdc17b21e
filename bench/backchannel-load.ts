import { ciphertextOf, fromBase64Url } from "../src/protocol/index.js";
import type { Party, Platform } from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { startNetwork } from "../test/helpers/network.js";
import { runLoad } from "./load.js";
import { startRelayProcess } from "./relay-process.js";
import { profiled } from "./profile.js";
import { nowMs, round, summarize, trend, type LoadResult } from "./stats.js";

export interface BackchannelOptions {
  events: number;
  /** Concurrent senders in the second phase, each a handler of its own party; 0 skips it. */
  senders: number;
  warmup: number;
  progress(line: string): void;
}

export interface BackchannelResult {
  /** cpuMsPerEvent is the devices' process alone (the relay runs in a child process). */
  send: LoadResult & {
    firstTenthP50Ms: number;
    lastTenthP50Ms: number;
    roundTripsPerSend: number;
    relayCpuMsPerEvent: number;
  };
  receive: { events: number; ms: number; eventsPerSec: number; cpuMsPerEvent: number };
  sendConcurrent?: LoadResult & { senders: number };
  /** Bytes of one signal's MLS ciphertext (before base64url), as the relay stores it. */
  ciphertextBytes: number;
}

/**
 * Every signal has the same length, so every ciphertext has the same size and the baseline can
 * send exactly that many bytes. The text is about what a handler types in one go.
 */
export function signalText(i: number): string {
  return `We could accept monitors on the northern line if shelling stops first (${String(i).padStart(7, "0")}).`;
}

const partyName = (i: number) => `P${i + 1}`;

/**
 * Real relay on a real port, real sdk devices (the integration tests' network): A's handler sends
 * N signals one at a time, the mediator then syncs them all, and finally `senders` handlers of
 * other parties send side by side, each into its own caucus.
 */
export async function measureBackchannel(opts: BackchannelOptions): Promise<BackchannelResult> {
  const others = Array.from({ length: opts.senders }, (_, i) => partyName(i));
  opts.progress(`backchannel: starting relay, mediator and ${1 + others.length} admitted handlers`);
  // A channel needs two parties: without concurrent senders, B only listens.
  const relay = await startRelayProcess();
  const requests = countingPlatform();
  const net = await startNetwork({
    platform: requests.platform,
    parties: ["A", ...(others.length ? others : ["B"])],
    topic: "bench",
    server: relay,
  });
  try {
    const a = net.handlers.A![0]!;
    const concurrent = others.map((p) => net.handlers[p]![0]!);

    opts.progress(`backchannel: warm-up, ${opts.warmup} signals per handler`);
    for (const h of [a, ...concurrent])
      for (let i = 0; i < opts.warmup; i++) await h.send({ text: signalText(i) });
    await net.mediator.sync();
    const ciphertextBytes = await ownCiphertextBytes(a);

    opts.progress(`backchannel: ${opts.events} sequential sends by A's handler`);
    const requestsBefore = requests.count();
    const relayCpuBefore = await relay.cpuMs();
    const seq = await profiled("send", () => runLoad([(i) => a.send({ text: signalText(i) })], opts.events));
    const send = {
      ...summarize(seq),
      ...trend(seq.latenciesMs),
      roundTripsPerSend: round((requests.count() - requestsBefore) / opts.events, 3),
      relayCpuMsPerEvent: round(((await relay.cpuMs()) - relayCpuBefore) / opts.events, 3),
    };
    opts.progress(
      `backchannel:   ${send.eventsPerSec} events/s, p50 ${send.p50Ms} ms, p99 ${send.p99Ms} ms, ${send.roundTripsPerSend} round trips per send`,
    );

    opts.progress(`backchannel: mediator sync of ${opts.events} signals (fetch, verify, decrypt)`);
    const t = nowMs();
    const cpuStart = process.cpuUsage();
    const added = await profiled("receive", () => net.mediator.sync());
    const ms = nowMs() - t;
    const cpu = process.cpuUsage(cpuStart);
    const got = added.get(net.caucus.A!)?.length ?? 0;
    if (got !== opts.events) throw new Error(`mediator received ${got} signals, expected ${opts.events}`);
    const receive = {
      events: got,
      ms: round(ms),
      eventsPerSec: round(got / (ms / 1000)),
      cpuMsPerEvent: round((cpu.user + cpu.system) / 1000 / got),
    };
    opts.progress(`backchannel:   ${receive.eventsPerSec} events/s (${receive.ms} ms)`);

    let sendConcurrent: BackchannelResult["sendConcurrent"];
    if (concurrent.length) {
      const perSender = Math.ceil(opts.events / concurrent.length);
      opts.progress(
        `backchannel: ${concurrent.length} concurrent senders × ${perSender} sends, one caucus each`,
      );
      const run = await runLoad(
        concurrent.map((h) => (i: number) => h.send({ text: signalText(i) })),
        perSender,
      );
      sendConcurrent = { senders: concurrent.length, ...summarize(run) };
      opts.progress(
        `backchannel:   ${sendConcurrent.eventsPerSec} events/s, p50 ${sendConcurrent.p50Ms} ms, p99 ${sendConcurrent.p99Ms} ms`,
      );
    }
    return { send, receive, ...(sendConcurrent ? { sendConcurrent } : {}), ciphertextBytes };
  } finally {
    await net.close();
  }
}

/** The devices' platform, counting the requests they make (round trips per send). */
function countingPlatform(): { platform: Platform; count(): number } {
  let n = 0;
  const transport = nodePlatform.transport;
  return {
    platform: {
      ...nodePlatform,
      transport: (request) => {
        n++;
        return transport(request);
      },
    },
    count: () => n,
  };
}

/** Size of the handler's own (warm-up) signals as the relay holds them. */
async function ownCiphertextBytes(party: Party): Promise<number> {
  const page = await party.session.http.call("listEvents", {
    params: { caucusId: party.caucusId },
    query: { after: 0 },
  });
  const sizes = page.events
    .filter((e) => e.kind === "application" && e.senderDeviceId === party.deviceId)
    .map((e) => fromBase64Url(ciphertextOf(e) ?? "").length);
  if (!sizes.length) throw new Error("no signal of the handler found to measure");
  return Math.max(...sizes);
}
