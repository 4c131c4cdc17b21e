import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { z } from "zod";
import {
  fillPath,
  parse,
  routes,
  type BlobDownload,
  type OperationId,
  type RouteSpec,
  type Routes,
} from "../../protocol/index.js";
import { deviceOf, mediatorOf } from "../auth.js";
import { ServerError } from "../errors.js";
import type { AuthenticatedDevice } from "../fastify-types.js";

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler gets: the request already validated against its route-table entry. */
export interface RouteInput<R extends RouteSpec> {
  params: Parsed<R["params"]>;
  query: Parsed<R["query"]>;
  body: Parsed<R["body"]>;
  device: R["auth"] extends "none" ? null : AuthenticatedDevice;
  request: FastifyRequest;
  /** Answer with another of the route's success statuses than its first. */
  status: (code: R["statuses"][number]["status"]) => void;
}

export type RouteHandler<R extends RouteSpec> = (input: RouteInput<R>) => Promise<z.input<R["response"]>>;

/** Handlers for some operations of the table; createApp needs one for every operation. */
export type RouteHandlers<K extends OperationId = OperationId> = { [P in K]: RouteHandler<Routes[P]> };

/** Fastify's `:name` for the table's OpenAPI `{name}`. */
export const fastifyPath = (path: string): string => fillPath(path, (name) => `:${name}`);

type AnyHandler = (
  input: Omit<RouteInput<RouteSpec>, "device"> & { device: AuthenticatedDevice | null },
) => Promise<unknown>;

/**
 * Registers every operation of the table with its handler. The order of checks is fixed here for
 * every route: bearer token, then the mediator role (before anything is looked up, so a party
 * learns nothing about the ids it passes), then path, query and body against the table's schemas,
 * then the handler.
 */
export function registerRoutes(
  app: FastifyInstance,
  handlers: RouteHandlers,
  authenticate: preHandlerAsyncHookHandler,
): void {
  // An upload's body is handed over as the request stream, unread (routes/blobs.ts streams it to
  // storage): never a whole blob in memory. Only routes marked `stream: "upload"` take it.
  app.addContentTypeParser("application/octet-stream", (request, payload, done) => {
    const operationId = request.routeOptions.config.operationId;
    const spec: RouteSpec | undefined = operationId ? routes[operationId] : undefined;
    if (spec?.stream === "upload") done(null, payload);
    else done(new ServerError("invalid_request", "content-type must be application/json", 415), undefined);
  });
  for (const operationId of Object.keys(routes) as OperationId[]) {
    // Each handler was typed against this very entry (RouteHandlers); the loop cannot say so.
    registerRoute(app, operationId, handlers[operationId] as unknown as AnyHandler, authenticate);
  }
}

function registerRoute(
  app: FastifyInstance,
  operationId: OperationId,
  handler: AnyHandler,
  authenticate: preHandlerAsyncHookHandler,
): void {
  const spec: RouteSpec = routes[operationId];
  app.route({
    method: spec.method,
    url: fastifyPath(spec.path),
    config: { operationId },
    ...(spec.auth === "none" ? {} : { preHandler: authenticate }),
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const device =
        spec.auth === "none" ? null : spec.auth === "mediator" ? mediatorOf(request) : deviceOf(request);
      let status = spec.statuses[0].status;
      const response = await handler({
        params: spec.params && parse(spec.params, request.params, "path"),
        query: spec.query && parse(spec.query, request.query, "query"),
        body: spec.body && parse(spec.body, request.body, "body"),
        device,
        request,
        status: (code) => void (status = code),
      });
      if (spec.stream === "download") {
        const { bytes, body } = response as BlobDownload;
        return reply
          .code(status)
          .header("content-type", "application/octet-stream")
          .header("content-length", String(bytes))
          .send(Readable.from(body));
      }
      // The handler's return type is checked against the table, but extra fields are not: a
      // strict client would reject them, so the relay checks its own answer (as atproto's does).
      if (!spec.response.safeParse(response).success)
        throw new Error(`${operationId}: the response does not match the route table`);
      return reply.code(status).send(response);
    },
  });
}
