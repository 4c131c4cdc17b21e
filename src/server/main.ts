import { consoleBuilt, defaultConsoleDir } from "./console.js";
import { defaultDataDir, defaultHost, defaultPort, startServer, type RunningServer } from "./start-server.js";

export interface ServeEnv {
  BACKCHANNEL_HOST?: string;
  BACKCHANNEL_PORT?: string;
  BACKCHANNEL_DATA_DIR?: string;
}

/** Reads the environment, with the defaults documented in start-server.ts. */
export function serveOptionsFromEnv(env: ServeEnv = process.env): {
  host: string;
  port: number;
  dataDir: string;
} {
  const rawPort = env.BACKCHANNEL_PORT ?? String(defaultPort);
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`BACKCHANNEL_PORT must be a port number (0-65535), got "${rawPort}"`);
  }
  return {
    host: env.BACKCHANNEL_HOST ?? defaultHost,
    port,
    dataDir: env.BACKCHANNEL_DATA_DIR ?? defaultDataDir,
  };
}

/**
 * `backchannel serve`: start the relay from the environment, print where it is, and close
 * cleanly on SIGINT/SIGTERM. Logs (JSON) go to stdout; the one human line goes to stderr so a
 * log collector reading stdout sees JSON only.
 */
export async function serve(env: ServeEnv = process.env): Promise<RunningServer> {
  const server = await startServer(serveOptionsFromEnv(env));
  process.stderr.write(`backchannel relay listening on ${server.url} (data: ${server.dataDir})\n`);
  process.stderr.write(
    consoleBuilt(defaultConsoleDir)
      ? `web console: ${server.url}/\n`
      : "web console not built (run `npm run build`); the API works without it\n",
  );
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `error while closing: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return server;
}
