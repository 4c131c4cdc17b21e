import { nowMs } from "./stats.js";

/** Sends one message (the i-th of its sender) and resolves once it is acknowledged. */
export type SendOne = (i: number) => Promise<unknown>;

export interface LoadRun {
  latenciesMs: number[];
  elapsedMs: number;
}

/**
 * Each sender sends `perSender` messages one after another (the next only after the previous is
 * acknowledged); senders run side by side. One sender is the sequential case.
 */
export async function runLoad(senders: readonly SendOne[], perSender: number): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  const start = nowMs();
  await Promise.all(
    senders.map(async (send) => {
      for (let i = 0; i < perSender; i++) {
        const t = nowMs();
        await send(i);
        latenciesMs.push(nowMs() - t);
      }
    }),
  );
  return { latenciesMs, elapsedMs: nowMs() - start };
}
