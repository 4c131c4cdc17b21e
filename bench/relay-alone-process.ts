import { loadTestLimits } from "../src/server/limits/load-test-limits.js";
import { startServer } from "../src/server/start-server.js";
import { startBaselineRelay } from "./baseline-relay.js";

/**
 * One relay in a process of its own (started by relay-process.ts): `real DATA_DIR` (the relay as
 * `backchannel serve` runs it, logging each request to stdout, which the parent points at
 * /dev/null) or `baseline DATA_DIR`
 * (baseline-relay.ts). Its own process so that the relay's CPU is counted apart from the load
 * client's, and neither steals the other's event loop.
 *
 * IPC: sends `{ url }` once listening; answers `"cpu"` with `{ cpuMs }` (user + system so far);
 * closes and exits on `"close"`.
 */
export type RelayKind = "real" | "baseline";

export type RelayProcessMessage = { url: string } | { cpuMs: number };

const [kind, dataDir] = process.argv.slice(2) as [RelayKind | undefined, string | undefined];
if ((kind !== "real" && kind !== "baseline") || !dataDir) {
  process.stderr.write("usage: relay-alone-process.ts real|baseline DATA_DIR (run by relay-alone.ts)\n");
  process.exit(2);
}
const send = (m: RelayProcessMessage) => process.send?.(m);

const databaseUrl = process.env.BENCH_DATABASE_URL;
const relay =
  kind === "real"
    ? await startServer({
        port: 0,
        dataDir,
        registration: "open",
        limits: loadTestLimits,
        ...(databaseUrl ? { databaseUrl } : {}),
      })
    : await startBaselineRelay(dataDir);

process.on("message", (m: unknown) => {
  if (m === "cpu") {
    const cpu = process.cpuUsage();
    send({ cpuMs: (cpu.user + cpu.system) / 1000 });
  } else if (m === "close") {
    void relay.close().finally(() => process.exit(0));
  }
});
// The parent went away without saying goodbye: do not linger.
process.on("disconnect", () => void relay.close().finally(() => process.exit(0)));
send({ url: relay.url });
