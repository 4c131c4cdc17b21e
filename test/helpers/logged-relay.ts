import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { startServer, type RunningServer, type StartServerOptions } from "../../src/server/start-server.js";
import { loadTestLimits } from "../../src/server/limits/load-test-limits.js";

export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** pino's numeric levels. */
export const logLevel = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface LoggedRelay extends RunningServer {
  /** Every line the relay has logged so far, parsed. */
  lines: LogLine[];
}

/** A relay on a real port and its own SQLite directory, its log lines captured for the test. */
export async function startLoggedRelay(
  options: Omit<StartServerOptions, "port" | "dataDir" | "logger"> = {},
): Promise<LoggedRelay> {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n"))
        if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const dataDir = await mkdtemp(join(tmpdir(), "backchannel-logged-"));
  const server = await startServer({
    limits: loadTestLimits,
    ...options,
    port: 0,
    dataDir,
    logger: { destination },
    registration: "open",
  });
  return {
    ...server,
    lines,
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
