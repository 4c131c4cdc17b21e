import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * With BENCH_PROFILE=DIR, each phase wrapped in `profiled` writes its own V8 CPU profile to
 * DIR/<phase>.cpuprofile (summarise one with `tsx bench/profile-top.ts DIR/<phase>.cpuprofile`),
 * so the send path, the receive path and the relay can be read apart. Without it: no overhead.
 */
export async function profiled<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 250 });
  await session.post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${phase}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
