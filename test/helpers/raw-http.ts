import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

/**
 * HTTP/1.1 and WebSocket over a bare TCP socket, for what fetch and ws will not send: no Host, a
 * broken request line, a header block over the limit, a refused handshake, a malformed frame.
 */

export interface RawResponse {
  status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/**
 * The responses in `bytes`, in order. Every response the relay writes has a Content-Length, so
 * anything else (a chunked body, a missing length, bytes that are no status line) throws: the test
 * then shows what came back. A response to HEAD has no body whatever its length says.
 */
export function parseResponses(bytes: Buffer, { head = false } = {}): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf("\r\n\r\n", at);
    if (end < 0)
      throw new Error(`incomplete response head: ${JSON.stringify(bytes.subarray(at).toString("latin1"))}`);
    const [statusLine = "", ...lines] = bytes.subarray(at, end).toString("latin1").split("\r\n");
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    if (!status) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    // 101: what follows is WebSocket frames, not HTTP.
    if (code === 101) return [...responses, { status: code, headers, body: "" }];
    if (headers["transfer-encoding"] !== undefined)
      throw new Error(`unexpected transfer-encoding: ${statusLine}`);
    // 1xx are interim (100 Continue): the answer to HEAD is the first final one.
    const final = responses.filter((r) => r.status >= 200).length === 0 && code >= 200;
    const length = head && final ? 0 : Number(headers["content-length"] ?? 0);
    const body = bytes.subarray(end + 4, end + 4 + length);
    if (body.length < length) throw new Error(`truncated body: ${body.length} of ${length} bytes`);
    responses.push({ status: code, headers, body: body.toString("utf8") });
    at = end + 4 + length;
  }
  return responses;
}

export interface Exchange {
  /** Everything the relay sent before it closed the connection or the deadline came. */
  received: Buffer;
  /** The relay closed the connection (else the deadline ended the wait). */
  closed: boolean;
}

/**
 * Writes `bytes`, half-closes unless `keepOpen`, and collects what comes back until the relay
 * closes the connection, until `until(received)` holds, or until `deadlineMs`.
 */
export function exchange(
  port: number,
  bytes: string | Buffer,
  {
    keepOpen = false,
    deadlineMs = 3_000,
    until,
  }: { keepOpen?: boolean; deadlineMs?: number; until?: (received: Buffer) => boolean } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(finish, deadlineMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (until?.(Buffer.concat(chunks))) finish();
    });
    // A reset after the answer is the relay hanging up on a client that kept sending.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.write(bytes);
    if (!keepOpen) socket.end();
  });
}

/** One request, one response (throws unless exactly one came back). */
export async function rawRequest(port: number, bytes: string | Buffer): Promise<RawResponse> {
  const { received } = await exchange(port, bytes);
  const responses = parseResponses(received);
  if (responses.length !== 1)
    throw new Error(`${responses.length} responses: ${received.toString("latin1")}`);
  return responses[0]!;
}

/** The lines of a WebSocket handshake request for `path`; callers change or drop any of them. */
export function handshakeLines(path = "/v1/ws"): Record<string, string> {
  return {
    "request-line": `GET ${path} HTTP/1.1`,
    host: "relay.test",
    connection: "Upgrade",
    upgrade: "websocket",
    "sec-websocket-key": randomBytes(16).toString("base64"),
    "sec-websocket-version": "13",
  };
}

export const requestBytes = ({ "request-line": line, ...headers }: Record<string, string>): string =>
  [line, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`), "", ""].join("\r\n");

/** A client frame: FIN set, masked unless `masked: false` (a server must refuse unmasked ones). */
export function clientFrame(
  opcode: number,
  payload: Buffer,
  { masked = true, declaredLength = payload.length }: { masked?: boolean; declaredLength?: number } = {},
): Buffer {
  const lengthBytes =
    declaredLength < 126
      ? Buffer.from([declaredLength])
      : declaredLength < 65_536
        ? Buffer.from([126, declaredLength >> 8, declaredLength & 0xff])
        : Buffer.concat([Buffer.from([127]), bigEndian64(declaredLength)]);
  lengthBytes[0]! |= masked ? 0x80 : 0;
  const mask = masked ? randomBytes(4) : Buffer.alloc(0);
  const body = masked ? payload.map((byte, i) => byte ^ mask[i % 4]!) : payload;
  return Buffer.concat([Buffer.from([0x80 | opcode]), lengthBytes, mask, body]);
}

function bigEndian64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/**
 * A push socket opened by hand: resolves once the relay has answered 101, with the socket and the
 * close code of the first close frame the relay sends (undefined if it hangs up without one).
 */
export function openRawWebSocket(
  port: number,
): Promise<{ socket: Socket; closeCode: Promise<number | undefined> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    let settleClose: (code: number | undefined) => void = () => undefined;
    const closeCode = new Promise<number | undefined>((r) => (settleClose = r));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (!upgraded) reject(new Error(`no upgrade: ${buffered.toString("latin1")}`));
      settleClose(undefined);
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!buffered.subarray(0, end).toString("latin1").startsWith("HTTP/1.1 101 ")) {
          socket.destroy();
          return;
        }
        upgraded = true;
        buffered = buffered.subarray(end + 4);
        resolve({ socket, closeCode });
      }
      const code = closeFrameCode(buffered);
      if (code !== undefined) settleClose(code);
    });
    socket.write(requestBytes(handshakeLines()));
  });
}

/** The status code of the first close frame among the server's frames (unmasked), if it came. */
function closeFrameCode(frames: Buffer): number | undefined {
  let at = 0;
  while (at + 2 <= frames.length) {
    const opcode = frames[at]! & 0x0f;
    let length = frames[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > frames.length) return undefined;
      length = frames.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > frames.length) return undefined;
      length = Number(frames.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > frames.length) return undefined;
    if (opcode === 0x8) return length >= 2 ? frames.readUInt16BE(start) : 1005;
    at = start + length;
  }
  return undefined;
}
