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

export interface OpenLoopRun extends LoadRun {
  /** Sends scheduled: rate × duration. */
  offered: number;
}

/**
 * Open loop: the i-th send is due at start + i / rate, whether or not earlier ones were
 * acknowledged, and its latency runs from when it was due (not from when the timer got round to
 * it) to its ack. A slow relay therefore cannot hide its stalls by slowing the client down
 * (coordinated omission), and a late timer counts against the run, never for it.
 */
export async function runOpenLoop(
  send: SendOne,
  ratePerSec: number,
  durationMs: number,
): Promise<OpenLoopRun> {
  const intervalMs = 1000 / ratePerSec;
  const offered = Math.round(durationMs / intervalMs);
  const latenciesMs: number[] = [];
  const acks: Promise<void>[] = [];
  const cpuStart = process.cpuUsage();
  const start = nowMs();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      for (const now = nowMs(); next < offered && start + next * intervalMs <= now; next++) {
        const due = start + next * intervalMs;
        acks.push(send(next).then(() => void latenciesMs.push(nowMs() - due)));
      }
      if (next < offered) setTimeout(tick, Math.max(0, start + next * intervalMs - nowMs()));
      else resolve();
    };
    tick();
  });
  await Promise.all(acks);
  const cpu = process.cpuUsage(cpuStart);
  return { latenciesMs, elapsedMs: nowMs() - start, cpuMs: (cpu.user + cpu.system) / 1000, offered };
}
