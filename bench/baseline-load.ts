import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BaselineClient } from "./baseline-client.js";
import { startBaselineRelay } from "./baseline-relay.js";
import { runLoad } from "./load.js";
import { summarize, type LoadResult } from "./stats.js";

export interface BaselineOptions {
  events: number;
  senders: number;
  warmup: number;
  /** Size of each opaque payload, before base64url: one signal's MLS ciphertext. */
  payloadBytes: number;
  progress(line: string): void;
}

export interface BaselineResult extends LoadResult {
  payloadBytes: number;
  concurrent?: LoadResult & { senders: number };
}

/** The same phases as the Backchannel run, against the minimal WebSocket + SQLite relay. */
export async function measureBaseline(opts: BaselineOptions): Promise<BaselineResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-bench-baseline-"));
  const relay = await startBaselineRelay(dataDir);
  const clients: BaselineClient[] = [];
  try {
    for (let i = 0; i < 1 + opts.senders; i++) clients.push(await BaselineClient.connect(relay.url));
    const [first, ...concurrent] = clients as [BaselineClient, ...BaselineClient[]];
    const blob = randomBytes(opts.payloadBytes).toString("base64url");

    opts.progress(`baseline: warm-up, ${opts.warmup} messages per connection`);
    for (const [n, c] of clients.entries())
      for (let i = 0; i < opts.warmup; i++) await c.append(`warmup-${n}`, blob);

    opts.progress(`baseline: ${opts.events} sequential appends of ${opts.payloadBytes} bytes`);
    const seq = await runLoad([() => first.append("A", blob)], opts.events);
    const sequential = summarize(seq);
    opts.progress(
      `baseline:   ${sequential.eventsPerSec} events/s, p50 ${sequential.p50Ms} ms, p99 ${sequential.p99Ms} ms`,
    );

    let concurrentResult: BaselineResult["concurrent"];
    if (concurrent.length) {
      const perSender = Math.ceil(opts.events / concurrent.length);
      opts.progress(
        `baseline: ${concurrent.length} concurrent senders × ${perSender} appends, one caucus each`,
      );
      const run = await runLoad(
        concurrent.map((c, n) => () => c.append(`P${n + 1}`, blob)),
        perSender,
      );
      concurrentResult = { senders: concurrent.length, ...summarize(run) };
      opts.progress(
        `baseline:   ${concurrentResult.eventsPerSec} events/s, p50 ${concurrentResult.p50Ms} ms, p99 ${concurrentResult.p99Ms} ms`,
      );
    }
    return {
      ...sequential,
      payloadBytes: opts.payloadBytes,
      ...(concurrentResult ? { concurrent: concurrentResult } : {}),
    };
  } finally {
    for (const c of clients) await c.close();
    await relay.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Senders for the baseline relay at `url` (running elsewhere, see relay-alone.ts): one WebSocket
 * and one caucus each, every message `payloadBytes` of random bytes, sent as the Backchannel
 * client sends its ciphertext.
 */
export async function connectBaselineSenders(
  url: string,
  count: number,
  payloadBytes: number,
): Promise<{ senders: (() => Promise<number>)[]; close(): Promise<void> }> {
  const clients: BaselineClient[] = [];
  for (let i = 0; i < count; i++) clients.push(await BaselineClient.connect(url));
  const blob = randomBytes(payloadBytes).toString("base64url");
  return {
    senders: clients.map((c, n) => () => c.append(`C${n}`, blob)),
    close: async () => {
      for (const c of clients) await c.close();
    },
  };
}
