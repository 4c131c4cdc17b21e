/** Milliseconds from a monotonic clock; wall-clock time can jump and would skew short intervals. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Nearest-rank percentile: always a latency that was actually observed, never an interpolation. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}

export interface LoadResult {
  events: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time per event; well below the per-event wall time means the run waited (fsync, network). */
  cpuMsPerEvent: number;
}

/** Throughput over the whole phase (not the mean of latencies), so idle gaps count against it. */
export function summarize(run: {
  latenciesMs: readonly number[];
  elapsedMs: number;
  cpuMs: number;
}): LoadResult {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  return {
    events: sorted.length,
    eventsPerSec: round(sorted.length / (run.elapsedMs / 1000)),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    cpuMsPerEvent: round(run.cpuMs / sorted.length),
  };
}

/** p50 of the first and last tenth of a sequential run: shows whether sends slow down as state grows. */
export function trend(latenciesMs: readonly number[]): { firstTenthP50Ms: number; lastTenthP50Ms: number } {
  const tenth = Math.max(1, Math.floor(latenciesMs.length / 10));
  const p50 = (xs: number[]) =>
    round(
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      ),
    );
  return {
    firstTenthP50Ms: p50(latenciesMs.slice(0, tenth)),
    lastTenthP50Ms: p50(latenciesMs.slice(-tenth)),
  };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
