import type { FastifyRequest } from "fastify";
import { buildOpenApi, type OpenApiDocument } from "../openapi.js";
import type { RouteHandlers } from "./register-route.js";

export const apiVersion = "1.0.0";

/**
 * The relay does not know the address clients reach it at (a proxy may sit in front), so the
 * document names the origin this request came to: generators then get a usable base URL.
 */
const origin = (request: FastifyRequest): string => `${request.protocol}://${request.host}`;

export function relayRoutes(): RouteHandlers<"health" | "getOpenApi"> {
  let document: OpenApiDocument | undefined;
  return {
    health: () => Promise.resolve({ ok: true }),
    getOpenApi: ({ request }) => {
      document ??= buildOpenApi(apiVersion);
      return Promise.resolve({
        ...document,
        servers: [{ url: origin(request), description: "The relay that served this document" }],
      });
    },
  };
}
