import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { buildOpenApi, type DocumentedRoute } from "../openapi.js";

export const apiVersion = "1.0.0";

export function registerHealthRoutes(app: FastifyInstance, routes: readonly DocumentedRoute[]): void {
  app.get(
    "/healthz",
    {
      config: {
        doc: {
          summary: "Liveness",
          auth: "none",
          responses: { 200: { description: "Up", schema: z.strictObject({ ok: z.literal(true) }) } },
        },
      },
    },
    () => Promise.resolve({ ok: true }),
  );

  let document: unknown;
  app.get(
    "/openapi.json",
    {
      config: {
        doc: {
          summary: "This document (OpenAPI 3.1)",
          auth: "none",
          responses: { 200: { description: "The OpenAPI document" } },
        },
      },
    },
    () => Promise.resolve((document ??= buildOpenApi(routes, apiVersion))),
  );
}
