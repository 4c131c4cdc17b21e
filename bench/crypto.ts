import { pathToFileURL } from "node:url";
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  defaultCapabilities,
  defaultCryptoProvider,
  defaultLifetime,
  emptyPskIndex,
  generateKeyPackage,
  joinGroup,
  processMessage,
  acceptAll,
  type CiphersuiteImpl,
  type ClientState,
  type CryptoProvider,
} from "ts-mls";
import { webCryptoProvider } from "../src/crypto/browser/mls-provider.js";
import { cipherSuite, cipherSuiteOn } from "../src/crypto/mls/suite.js";
import { nodeCryptoProvider } from "../src/crypto/node/mls-provider/provider.js";
// As in the app: the Node adapter installs the provider the app uses, which cipherSuite() returns.
import "../src/sdk/node.js";
import { nowMs, percentile, round } from "./stats.js";

/**
 * MLS message throughput on each crypto provider, measured in one process and interleaved round
 * by round, so a noisy neighbour slows every provider alike: a message is one 1 KiB application
 * message encrypted by one member of a two-member group and decrypted by the other, through
 * ts-mls's own API (createApplicationMessage, processMessage), nothing of ours around it.
 */

const PAYLOAD_BYTES = 1024;

export interface ProviderThroughput {
  /** Median over rounds of messages per second (wall clock). */
  messagesPerSec: number;
  /** Median over rounds of CPU milliseconds per message (encrypt + decrypt). */
  cpuMsPerMessage: number;
  /** Slowest and fastest round, to show the noise. */
  messagesPerSecRange: [number, number];
}

export interface CryptoResult {
  payloadBytes: number;
  rounds: number;
  messagesPerRound: number;
  /** node:crypto ÷ ts-mls default, messages per second in the same run. */
  providerSpeedup: number;
  /** The same ratio on CPU time per message, less sensitive to other processes on the machine. */
  cpuSpeedup: number;
  default: ProviderThroughput;
  node: ProviderThroughput;
  webcrypto: ProviderThroughput;
  /** CPU ms of one bare createApplicationMessage of a 1 KiB payload, on the app's provider. */
  bareEncryptCpuMs: number;
}

interface Pair {
  sender: ClientState;
  receiver: ClientState;
  cs: CiphersuiteImpl;
}

/** Two members, the second added by the first's commit and joined from its Welcome. */
async function twoMemberGroup(cs: CiphersuiteImpl): Promise<Pair> {
  const credential = (name: string) => ({
    credentialType: "basic" as const,
    identity: new TextEncoder().encode(name),
  });
  const a = await generateKeyPackage(credential("a"), defaultCapabilities(), defaultLifetime, [], cs);
  const b = await generateKeyPackage(credential("b"), defaultCapabilities(), defaultLifetime, [], cs);
  const created = await createGroup(
    new TextEncoder().encode("bench"),
    a.publicPackage,
    a.privatePackage,
    [],
    cs,
  );
  const add = await createCommit(
    { state: created, cipherSuite: cs },
    {
      extraProposals: [{ proposalType: "add", add: { keyPackage: b.publicPackage } }],
      ratchetTreeExtension: true,
    },
  );
  if (!add.welcome) throw new Error("adding a member made no Welcome");
  const receiver = await joinGroup(add.welcome, b.publicPackage, b.privatePackage, emptyPskIndex, cs);
  return { sender: add.newState, receiver, cs };
}

/** Sends `n` messages from sender to receiver; the pair moves on with the ratchet. */
async function exchange(pair: Pair, n: number, payload: Uint8Array): Promise<void> {
  for (let i = 0; i < n; i++) {
    const sent = await createApplicationMessage(pair.sender, payload, pair.cs);
    pair.sender = sent.newState;
    const received = await processMessage(
      { wireformat: "mls_private_message", privateMessage: sent.privateMessage },
      pair.receiver,
      emptyPskIndex,
      acceptAll,
      pair.cs,
    );
    if (received.kind !== "applicationMessage")
      throw new Error("an application message came back as a commit");
    pair.receiver = received.newState;
  }
}

function summarizeRounds(rounds: { ms: number; cpuMs: number }[], n: number): ProviderThroughput {
  const rates = rounds.map((r) => n / (r.ms / 1000)).sort((x, y) => x - y);
  const cpu = rounds.map((r) => r.cpuMs / n).sort((x, y) => x - y);
  return {
    messagesPerSec: round(percentile(rates, 50)),
    cpuMsPerMessage: round(percentile(cpu, 50), 4),
    messagesPerSecRange: [round(rates[0]!), round(rates[rates.length - 1]!)],
  };
}

export async function measureCrypto(
  opts: { rounds?: number; messagesPerRound?: number; progress?: (line: string) => void } = {},
): Promise<CryptoResult> {
  const rounds = opts.rounds ?? 5;
  const n = opts.messagesPerRound ?? 200;
  const progress = opts.progress ?? (() => {});
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x42);
  const providers: Record<"default" | "node" | "webcrypto", CryptoProvider> = {
    default: defaultCryptoProvider,
    node: nodeCryptoProvider,
    webcrypto: webCryptoProvider,
  };
  const names = Object.keys(providers) as (keyof typeof providers)[];
  const pairs = new Map<string, Pair>();
  const samples = new Map<string, { ms: number; cpuMs: number }[]>(names.map((name) => [name, []]));
  for (const name of names) {
    const pair = await twoMemberGroup(await cipherSuiteOn(providers[name]));
    await exchange(pair, Math.ceil(n / 4), payload); // warm-up: JIT, key caches
    pairs.set(name, pair);
  }
  for (let r = 1; r <= rounds; r++) {
    for (const name of names) {
      const cpu = process.cpuUsage();
      const start = nowMs();
      await exchange(pairs.get(name)!, n, payload);
      const ms = nowMs() - start;
      const used = process.cpuUsage(cpu);
      samples.get(name)!.push({ ms, cpuMs: (used.user + used.system) / 1000 });
    }
    progress(`crypto: round ${r}/${rounds}, ${n} messages per provider`);
  }
  const [base, node, webcrypto] = names.map((name) => summarizeRounds(samples.get(name)!, n)) as [
    ProviderThroughput,
    ProviderThroughput,
    ProviderThroughput,
  ];
  const result: CryptoResult = {
    payloadBytes: PAYLOAD_BYTES,
    rounds,
    messagesPerRound: n,
    providerSpeedup: round(node.messagesPerSec / base.messagesPerSec),
    cpuSpeedup: round(base.cpuMsPerMessage / node.cpuMsPerMessage),
    default: base,
    node,
    webcrypto,
    bareEncryptCpuMs: await bareEncryptCpuMs(PAYLOAD_BYTES),
  };
  progress(
    `crypto: ${node.messagesPerSec} messages/s on node:crypto, ${base.messagesPerSec} on the default: ` +
      `${result.providerSpeedup}x`,
  );
  return result;
}

/**
 * CPU milliseconds of one bare ts-mls `createApplicationMessage` (encrypt only, no framing or
 * padding of ours) of `payloadBytes`, on the provider the app uses (`cipherSuite()`) unless
 * another is given: the floor a send's CPU cost is compared with. Mean over `iterations` after a
 * warm-up, in a two-member group whose ratchet moves on with every message, as a sender's does.
 */
export async function bareEncryptCpuMs(
  payloadBytes: number,
  { provider, iterations = 300 }: { provider?: CryptoProvider; iterations?: number } = {},
): Promise<number> {
  const pair = await twoMemberGroup(await (provider ? cipherSuiteOn(provider) : cipherSuite()));
  const payload = new Uint8Array(payloadBytes).fill(0x42);
  let state = pair.sender;
  for (let i = 0; i < 30; i++) state = (await createApplicationMessage(state, payload, pair.cs)).newState;
  const cpu = process.cpuUsage();
  for (let i = 0; i < iterations; i++)
    state = (await createApplicationMessage(state, payload, pair.cs)).newState;
  const used = process.cpuUsage(cpu);
  return round((used.user + used.system) / 1000 / iterations, 4);
}

// `npx tsx bench/crypto.ts` runs this part alone and prints its JSON.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await measureCrypto({ progress: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
