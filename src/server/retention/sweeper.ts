import type { FastifyBaseLogger } from "fastify";
import type { Storage, SweepResult } from "../storage/storage.js";
import type { RetentionPolicy } from "./policy.js";

export interface RetentionSweeper {
  /** One pass now (also what the timer runs); passes never overlap. */
  sweep(): Promise<SweepResult>;
  stop(): Promise<void>;
}

/**
 * Runs Storage.sweepRetention every `sweepIntervalMs`. Cheap when there is nothing to do (two
 * indexed reads), bounded when there is (one batch per pass), and safe on several relay nodes at
 * once (the storage's sweep is idempotent), so every node runs one and nothing elects a leader.
 * A failed pass is logged and the next one tries again.
 */
export function startRetentionSweeper(
  storage: Storage,
  policy: RetentionPolicy,
  now: () => number,
  log: FastifyBaseLogger,
): RetentionSweeper {
  let running: Promise<SweepResult> | undefined;
  const sweep = (): Promise<SweepResult> =>
    (running ??= storage
      .sweepRetention(now(), { markIntervalMs: policy.markIntervalMs })
      .then((r) => {
        if (r.tombstoned > 0) log.info({ tombstoned: r.tombstoned }, "retention: messages deleted");
        return r;
      })
      .finally(() => {
        running = undefined;
      }));
  const timer =
    policy.sweepIntervalMs > 0
      ? setInterval(() => {
          sweep().catch((error: unknown) => log.warn({ err: error }, "retention sweep failed"));
        }, policy.sweepIntervalMs)
      : undefined;
  timer?.unref();
  return {
    sweep,
    async stop() {
      if (timer) clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
