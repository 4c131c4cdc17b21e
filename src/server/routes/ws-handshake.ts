import type { Duplex } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { WebSocketServer } from "ws";
import { pushSocket } from "../../protocol/index.js";
import { ServerError, toHttpError } from "../errors.js";
import { detachResponse, writeRawRefusal } from "../raw-refusal.js";

/**
 * The push socket's HTTP side. ws refuses a bad handshake on its own with a text/html body; with a
 * `wsClientError` listener it leaves the answer to us, so the client gets the API's error shape.
 * By then the connection has left the HTTP server (and Fastify has handed the reply over), so the
 * answer goes straight onto the socket.
 */
export function answerHandshakeErrors(wss: WebSocketServer): void {
  wss.on("wsClientError", (error: Error, socket: Duplex) => {
    const refusal = handshakeRefusals[error.message] ?? {
      status: 400,
      message: "invalid WebSocket handshake",
    };
    detachResponse(socket);
    writeRawRefusal(
      socket,
      new ServerError("invalid_request", refusal.message, refusal.status),
      refusal.headers,
    );
  });
}

/**
 * ws's messages, which are its API for telling the failures apart (it attaches no code), mapped to
 * ours; a message a later ws changes falls back to a generic refusal.
 */
const handshakeRefusals: Record<
  string,
  { status: number; message: string; headers?: Record<string, string> }
> = {
  "Invalid HTTP method": { status: 405, message: "a WebSocket handshake is a GET" },
  "Invalid Upgrade header": { status: 400, message: "the Upgrade header must be websocket" },
  "Missing or invalid Sec-WebSocket-Key header": {
    status: 400,
    message: "Sec-WebSocket-Key must be 16 bytes in base64",
  },
  "Missing or invalid Sec-WebSocket-Version header": {
    status: 400,
    message: "Sec-WebSocket-Version must be 13",
    // RFC 6455 §4.4: the versions the server speaks.
    headers: { "Sec-WebSocket-Version": "13" },
  },
  "Invalid Sec-WebSocket-Protocol header": { status: 400, message: "Sec-WebSocket-Protocol is malformed" },
};

/**
 * A plain GET of the push socket's path. 426 Upgrade Required is the status HTTP defines for
 * "this resource speaks another protocol" (RFC 9110 §15.5.22), and it must name that protocol in
 * `Upgrade`; a 404 would say nothing is there, a 400 that the request was malformed.
 */
export function requireUpgrade(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toHttpError(
    new ServerError(
      "invalid_request",
      `${pushSocket.path} is the push WebSocket: open it with a WebSocket handshake`,
      426,
    ),
  );
  return reply.code(status).header("upgrade", "websocket").header("connection", "Upgrade").send(body);
}
