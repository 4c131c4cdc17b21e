import fastifyCors from "@fastify/cors";
import type { FastifyInstance } from "fastify";
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
 * are not API get the relay's JSON not-found instead, with no CORS headers, from a hook that
 * runs before the plugin's. (Static options, not a per-request delegator: the plugin then does
 * next to nothing per API call, where a delegator cost a tenth of the relay's work per append.)
 */
export async function registerApiCors(
  scope: FastifyInstance,
  allowOrigins?: readonly string[],
): Promise<void> {
  scope.addHook("onRequest", (request, reply, done) => {
    if (request.method === "OPTIONS" && !isApiPath(request.url)) reply.callNotFound();
    else done();
  });
  await scope.register(fastifyCors, {
    origin: allowOrigins === undefined ? "*" : [...allowOrigins],
    methods: corsMethods,
    allowedHeaders: corsRequestHeaders,
    credentials: false,
    maxAge: 600,
    // A preflight without Origin is answered like any other OPTIONS, not with the plugin's
    // plain-text 400, which would not be in the API's error shape.
    strictPreflight: false,
  });
}
