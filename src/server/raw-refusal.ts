import { STATUS_CODES, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { toHttpError, type ServerError } from "./errors.js";

/**
 * How long a refused connection may linger, reading and discarding whatever the client still
 * sends, before it is destroyed. Destroying it at once would reset a connection with unread bytes
 * in it, and a reset can make the client drop the answer before reading it.
 */
const lingerMs = 2_000;

/**
 * How long a refusal waits for the answer to an earlier request on the connection. Answers take
 * milliseconds; a client that pipelines garbage behind a request gets no more than this.
 */
const inFlightWaitMs = 10_000;

/**
 * Answers on a bare socket, for the refusals made where no Fastify reply exists: Node's parser
 * gave up on the request, or a WebSocket handshake failed after the connection left the HTTP
 * server. A complete HTTP/1.1 response in the API's error shape, then the connection closes.
 *
 * Safe on any socket state: a destroyed socket, or one already answered and ending, is left
 * alone; one that cannot be written is destroyed. While the answer to an earlier, complete request
 * on the connection is still being written (pipelined requests, the second one unparsable), the
 * refusal waits for it, for a while: a status line in the middle of a response would corrupt
 * both, and ending the socket under it would fail a request that was fine. A request whose own
 * body was unparsable can never be answered by its route, so it gets the refusal at once.
 */
export function writeRawRefusal(
  socket: Duplex,
  error: ServerError,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed || socket.writableEnded) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const inFlight = responseOn(socket);
  if (inFlight && !inFlight.writableFinished && !inFlight.headersSent && !inFlight.req.complete) {
    // The route is still reading this very request's body, which will never end: answer for it.
  } else if (inFlight && !inFlight.writableFinished) {
    const giveUp = setTimeout(() => socket.destroy(), inFlightWaitMs);
    giveUp.unref();
    socket.once("close", () => clearTimeout(giveUp));
    inFlight.once("finish", () => {
      clearTimeout(giveUp);
      writeRawRefusal(socket, error, headers);
    });
    return;
  }
  const { status, body } = toHttpError(error);
  const json = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(json)}`,
    "Connection: close",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${head.join("\r\n")}\r\n\r\n${json}`);
  setLinger(socket);
}

/**
 * The response a server socket is busy with. Node's own field (undocumented, stable since 0.x),
 * which its default clientError answer reads too.
 */
const responseOn = (socket: Duplex): ServerResponse | null | undefined =>
  (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;

/**
 * Unhooks the socket from the response it was routed with, once that response will never be sent:
 * the socket has become a WebSocket, or it is refused on the raw socket instead (the reply of a
 * WebSocket handshake is hijacked, so its response would otherwise stay attached, unfinished).
 */
export function detachResponse(socket: Duplex): void {
  responseOn(socket)?.detachSocket(socket as Socket);
}

/**
 * Closes a connection once the response it was routed with has been sent, if one is attached: for
 * upgrade requests, whose response @fastify/websocket makes, and closes only if the request got as
 * far as its own hook (not after an earlier hook's refusal, nor after a malformed URL). Node closes
 * the connections of the responses it makes itself. A response never sent (the connection became
 * a WebSocket) closes nothing.
 */
export function closeWhenAnswered(socket: Duplex): void {
  const response = responseOn(socket);
  if (!response) return;
  const close = () => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.end();
    setLinger(socket);
  };
  if (response.writableFinished) close();
  else response.once("finish", close);
}

function setLinger(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.resume();
}
