import { nowMs } from "./stats.js";

/** Sends one message (the i-th of its sender) and resolves once it is acknowledged. */
export type SendOne = (i: number) => Promise<unknown>;

export interface LoadRun {
  latenciesMs: number[];
  elapsedMs: number;
  /** User + system CPU of this process over the run: client and relay share it, as do both benches. */
  cpuMs: number;
}

/**
 * Each sender sends `perSender` messages one after another (the next only after the previous is
 * acknowledged); senders run side by side. One sender is the sequential case.
 */
export async function runLoad(senders: readonly SendOne[], perSender: number): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  const start = nowMs();
  const cpuStart = process.cpuUsage();
  await Promise.all(
    senders.map(async (send) => {
      for (let i = 0; i < perSender; i++) {
        const t = nowMs();
        await send(i);
        latenciesMs.push(nowMs() - t);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuStart);
  return { latenciesMs, elapsedMs: nowMs() - start, cpuMs: (cpu.user + cpu.system) / 1000 };
}
