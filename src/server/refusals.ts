import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type {
  ConnectionError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
} from "fastify";
import { pushSocket, routes } from "../protocol/index.js";
import { ServerError, notFound, toHttpError } from "./errors.js";
import { closeWhenAnswered, writeRawRefusal } from "./raw-refusal.js";

/**
 * Every refusal the relay makes is `{ error, message }` with a stable code, including those that
 * Node's HTTP server and Fastify would otherwise make in shapes of their own: a client that reads
 * one error shape must never meet another (issue 10). This module covers what happens before a
 * route runs; routes/ws-handshake.ts covers the WebSocket handshake.
 */

/** Fastify options for refusals that Node's HTTP server would make on its own, in its own shape. */
export const refusalOptions = {
  // Node answers an HTTP/1.1 request without Host with an empty 400 before Fastify sees it;
  // requireHost below refuses it in our shape instead.
  http: { requireHostHeader: false },
  clientErrorHandler,
};

/** Hooks and listeners for the refusals around routing; call once, on the root instance. */
export function registerRefusals(app: FastifyInstance): void {
  app.addHook("onRequest", refuseStrayUpgrade);
  app.addHook("onRequest", requireHost);
  app.setNotFoundHandler(notFoundOrWrongMethod(app));
  // Whatever answers an upgrade request over HTTP, its connection then closes; else a client's
  // upgrade to a malformed URL would leave a half-open socket behind for good. @fastify/websocket
  // routes the request in a listener of its own: look once that has run.
  app.server.on("upgrade", (_request: IncomingMessage, socket: Socket) =>
    process.nextTick(closeWhenAnswered, socket),
  );
  // Without a listener, Node drops a CONNECT without a word; this relay is no proxy.
  app.server.on("connect", (_request: IncomingMessage, socket: Socket) =>
    writeRawRefusal(socket, new ServerError("not_found", "CONNECT: this relay is not a proxy", 405), {
      Allow: "",
    }),
  );
  // Without a listener, Node answers an Expect other than 100-continue with an empty 417.
  app.server.on("checkExpectation", (_request: IncomingMessage, response: ServerResponse) => {
    const { status, body } = toHttpError(
      new ServerError("invalid_request", "the only expectation supported is Expect: 100-continue", 417),
    );
    const json = JSON.stringify(body);
    response
      .writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(json),
        connection: "close",
      })
      .end(json);
  });
}

/**
 * Node's parser gave up on the bytes (no valid request line, bad header, header block too large,
 * conflicting lengths) or the request did not arrive within requestTimeout. Any client can cause
 * these at will, so they are logged at debug only.
 */
function clientErrorHandler(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  // ECONNRESET: the client is gone and nothing can be answered.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  this.log.debug({ code: error.code }, "refused a malformed request");
  writeRawRefusal(socket, parserRefusal(error.code));
}

function parserRefusal(code: string): ServerError {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return new ServerError("payload_too_large", "request headers are too large", 431);
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return new ServerError("payload_too_large", "chunk extensions are too large");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ServerError("invalid_request", "the request did not arrive in time", 408);
    default:
      return new ServerError("invalid_request", "malformed HTTP request");
  }
}

/** RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400 (as Node would, but in our shape). */
const requireHost: onRequestHookHandler = (request, _reply, done) => {
  if (request.raw.httpVersion === "1.1" && request.headers.host === undefined)
    done(new ServerError("invalid_request", "an HTTP/1.1 request needs a Host header"));
  else done();
};

/**
 * An upgrade request is routed like any other, and @fastify/websocket would complete a WebSocket
 * handshake on any route it reaches (then close the socket at once): only the push socket takes
 * one. The connection of an upgrade request cannot be reused, whatever the answer: it closes.
 */
const refuseStrayUpgrade: onRequestHookHandler = (request, reply, done) => {
  // Node's own flag (undocumented, there since 0.x): the request came through the "upgrade" event.
  if (!(request.raw as IncomingMessage & { upgrade?: boolean }).upgrade) return done();
  void reply.header("connection", "close");
  const route = request.routeOptions.url;
  if (route !== undefined && route !== pushSocket.path)
    done(new ServerError("invalid_request", `only ${pushSocket.path} accepts a protocol upgrade`));
  else done();
};

/** Methods some route answers; OPTIONS and HEAD are not among them (CORS answers preflights). */
const routedMethods = [...new Set(["GET", ...Object.values(routes).map((r) => r.method)])];

/**
 * 404 for a path no route serves, 405 with `Allow` for a known path asked with another method.
 * The 405 tells nothing about ids: routing matches path patterns, never stored data.
 */
function notFoundOrWrongMethod(app: FastifyInstance) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const url = request.url.split("?", 1)[0]!;
    const matching = routedMethods.filter((method) => app.findRoute({ method, url }) !== null);
    // A route of this very method may send a 404 of its own (a static file that is not there);
    // a preflight off the API is refused as not found by the CORS scope.
    const allowed = matching.includes(request.method) || request.method === "OPTIONS" ? [] : matching;
    const { status, body } = toHttpError(
      allowed.length === 0
        ? notFound()
        : new ServerError(
            "not_found",
            `${request.method} is not allowed here (allowed: ${allowed.join(", ")})`,
            405,
          ),
    );
    if (allowed.length > 0) void reply.header("allow", allowed.join(", "));
    return reply.code(status).send(body);
  };
}
