import fastifyCors from "@fastify/cors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { pushSocket, routes } from "../protocol/index.js";

/**
 * The console runs on the user's machine (`backchannel console`), not on the relay, so it calls
 * the API cross-origin. CORS grants it nothing a script elsewhere could not already do: every call
 * that touches a device carries a bearer token in the Authorization header, and the relay sets no
 * cookies, so `Access-Control-Allow-Credentials` is never sent and a browser never attaches
 * ambient credentials. By default any origin may call the API; an operator may name the only
 * origins allowed (`allowOrigins`), which browsers then enforce (other clients send no Origin).
 */
export const corsMethods = [...new Set(Object.values(routes).map((r) => r.method))];
export const corsRequestHeaders = ["authorization", "content-type"];

// Every parametric path of the table is under /v1/; the others are listed one by one.
const apiPaths = new Set<string>([...Object.values(routes).map((r) => r.path), pushSocket.path]);
export const isApiPath = (url: string): boolean => {
  const path = url.split("?", 1)[0]!;
  return path.startsWith("/v1/") || apiPaths.has(path);
};

/**
 * Registers CORS in the API's scope, so its headers go on API routes only. Its one route of its
 * own, `OPTIONS *` (which answers preflights), would match any path: preflights for paths that
 * are not API fall through to the relay's JSON not-found, with no CORS headers.
 */
export async function registerApiCors(
  scope: FastifyInstance,
  allowOrigins?: readonly string[],
): Promise<void> {
  const options = (origin: string | string[] | false) => ({
    origin,
    methods: corsMethods,
    allowedHeaders: corsRequestHeaders,
    credentials: false,
    maxAge: 600,
    // A preflight without Origin is answered like any other OPTIONS, not with the plugin's
    // plain-text 400, which would not be in the API's error shape.
    strictPreflight: false,
  });
  // Made once, not per request: the delegator runs on every API call.
  const api = options(allowOrigins === undefined ? "*" : [...allowOrigins]);
  const notApi = options(false);
  await scope.register(fastifyCors, {
    delegator: (request: FastifyRequest, callback) => callback(null, isApiPath(request.url) ? api : notApi),
  });
}
