import Fastify, { type FastifyReply } from "fastify";
import { consoleBuilt, defaultConsoleDir, registerConsole } from "../server/console.js";
import { notFound, toHttpError } from "../server/errors.js";
import { listeningAt } from "../server/start-server.js";

/**
 * A stable port: the browser keeps a device's keys per origin (scheme, host and port), so the
 * console must come back on the same one to find them.
 */
export const defaultConsolePort = 7701;
export const defaultConsoleHost = "127.0.0.1";

export interface ConsoleHostOptions {
  /** The relay the console talks to, cross-origin; only its origin counts. */
  relayUrl: string;
  /** Default 7701; 0 picks a free one. */
  port?: number;
  /** Default 127.0.0.1: browsers give WebCrypto to http pages on loopback only. */
  host?: string;
  /** The built console; default the installed package's dist/web (not the working directory). */
  dir?: string;
}

export interface RunningConsoleHost {
  /** http://host:port, no trailing slash: the console is at `${url}/`. */
  url: string;
  port: number;
  /** The relay's origin, as the console is told it. */
  relayUrl: string;
  close(): Promise<void>;
}

/**
 * `backchannel console`'s server: the built console from this installation, on this machine, so
 * the code that holds a browser device's keys never comes from the relay (invariant 8). It serves
 * static files and /config.json (which names the relay) under the console's CSP, whose
 * connect-src admits that relay and nothing else; it proxies nothing.
 */
export async function startConsoleHost(options: ConsoleHostOptions): Promise<RunningConsoleHost> {
  const { port = defaultConsolePort, host = defaultConsoleHost, dir = defaultConsoleDir } = options;
  if (!URL.canParse(options.relayUrl) || !/^https?:$/.test(new URL(options.relayUrl).protocol))
    throw new Error(`--server must be the relay's http(s) URL, got "${options.relayUrl}"`);
  const relayUrl = new URL(options.relayUrl).origin;
  if (!consoleBuilt(dir))
    throw new Error(`the web console is not built in ${dir}; run \`npm run build\` in the package`);
  const app = Fastify({ logger: false, exposeHeadRoutes: false });
  const refuse = (error: unknown, reply: FastifyReply) => {
    const { status, body } = toHttpError(error);
    return reply.code(status).send(body);
  };
  app.setErrorHandler((error, _request, reply) => refuse(error, reply));
  app.setNotFoundHandler((_request, reply) => refuse(notFound(), reply));
  registerConsole(app, { dir, relayUrl });
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return { ...listeningAt(app), relayUrl, close: () => (closing ??= app.close()) };
}
