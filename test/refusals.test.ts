import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes, limits, type ErrorCode } from "../src/protocol/index.js";
import { createApp } from "../src/server/app.js";
import { listeningAt } from "../src/server/start-server.js";
import { openSqliteStorage } from "../src/server/storage/sqlite/sqlite-storage.js";
import { TestSocket, fetchCall, mediatorWithCaucus } from "../src/server/test-helpers.js";
import { logLevel, startLoggedRelay, type LoggedRelay } from "./helpers/logged-relay.js";
import {
  clientFrame,
  exchange,
  handshakeLines,
  openRawWebSocket,
  parseResponses,
  rawRequest,
  requestBytes,
  type RawResponse,
} from "./helpers/raw-http.js";

/**
 * Issue 10: every refusal the relay makes is `{ error, message }` with a stable code and
 * `application/json`, also those Node's HTTP server, Fastify and ws would make in shapes of their
 * own; a malformed WebSocket frame costs one warn line per connection, never an error with a stack.
 */

let relay: LoggedRelay;
beforeAll(async () => {
  relay = await startLoggedRelay();
});
afterAll(() => relay.close());

async function viaFetch(path: string, init?: RequestInit): Promise<RawResponse> {
  const res = await fetch(relay.url + path, init);
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => (headers[name] = value));
  return { status: res.status, headers, body: await res.text() };
}

/** The one error shape: JSON, exactly `error` (a code of protocol/errors.ts) and `message`. */
function expectRefusal(
  res: RawResponse,
  status: number,
  code: ErrorCode,
): { error: string; message: string } {
  expect(res.status, res.body).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/json(;|$)/);
  const body = JSON.parse(res.body) as { error: string; message: string };
  expect(Object.keys(body).sort()).toEqual(["error", "message"]);
  expect(body.error).toBe(code);
  expect(errorCodes).toContain(body.error);
  expect(typeof body.message === "string" && body.message.length > 0).toBe(true);
  return body;
}

const get = (path: string, headers = "Host: relay.test\r\n") => `GET ${path} HTTP/1.1\r\n${headers}\r\n`;

describe("HTTP refusals, whoever makes them, are in the API's error shape", () => {
  it("an unknown route → 404 not_found", async () => {
    expectRefusal(await viaFetch("/v1/nothing"), 404, "not_found");
    expectRefusal(await viaFetch("/no/such/thing", { method: "DELETE" }), 404, "not_found");
  });

  it("a known path with another method → 405 not_found, with Allow", async () => {
    const res = await viaFetch("/healthz", { method: "POST" });
    expect(expectRefusal(res, 405, "not_found").message).toContain("POST");
    expect(res.headers.allow).toBe("GET");
    const events = await viaFetch(`/v1/caucuses/${crypto.randomUUID()}/events`, { method: "PUT" });
    expectRefusal(events, 405, "not_found");
    expect(events.headers.allow).toBe("GET, POST");
    // HEAD is no route of the relay's: a 405 without a body.
    const head = await fetch(`${relay.url}/healthz`, { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET");
  });

  it("a plain GET of the push socket → 426 invalid_request naming the WebSocket, with Upgrade", async () => {
    const res = await viaFetch("/v1/ws");
    expect(expectRefusal(res, 426, "invalid_request").message).toContain("WebSocket");
    expect(res.headers.upgrade).toBe("websocket");
  });

  it("bad JSON → 400 invalid_json; a wrong content-type → 415 invalid_request", async () => {
    const post = (body: string, type: string) =>
      viaFetch("/v1/auth/challenge", { method: "POST", body, headers: { "content-type": type } });
    expectRefusal(await post("{nope", "application/json"), 400, "invalid_json");
    expectRefusal(await post("", "application/json"), 400, "invalid_json");
    expectRefusal(await post("{}", "text/plain"), 415, "invalid_request");
    expectRefusal(await post("a=1", "application/x-www-form-urlencoded"), 415, "invalid_request");
  });

  it("a body declared over limits.bodyBytes → 413 payload_too_large, before it is read", async () => {
    const res = await rawRequest(
      relay.port,
      `POST /v1/auth/challenge HTTP/1.1\r\nHost: relay.test\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${limits.bodyBytes + 1}\r\n\r\n{"deviceId":`,
    );
    expectRefusal(res, 413, "payload_too_large");
  });

  it("an undecodable URL → 400, an over-long path parameter → 414, both invalid_request", async () => {
    expectRefusal(await rawRequest(relay.port, get("/v1/caucuses/%E0%A4%A/events")), 400, "invalid_request");
    expectRefusal(
      await rawRequest(relay.port, get(`/v1/caucuses/${"a".repeat(600)}/events`)),
      414,
      "invalid_request",
    );
  });

  it("an HTTP/1.1 request without Host → 400 invalid_request (Node's would be empty)", async () => {
    const res = await rawRequest(relay.port, "GET /healthz HTTP/1.1\r\n\r\n");
    expect(expectRefusal(res, 400, "invalid_request").message).toContain("Host");
    // HTTP/1.0 has no Host requirement.
    expect((await rawRequest(relay.port, "GET /healthz HTTP/1.0\r\n\r\n")).status).toBe(200);
  });

  it("bytes Node's parser refuses → 400 invalid_request with Connection: close", async () => {
    for (const bytes of [
      "GARBAGE\r\n\r\n",
      "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
      "FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
      "POST /v1/mediators HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
      "POST /v1/mediators HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    ]) {
      const res = await rawRequest(relay.port, bytes);
      expectRefusal(res, 400, "invalid_request");
      expect(res.headers.connection, bytes).toBe("close");
    }
  });

  it("a header block over Node's limit → 431 payload_too_large", async () => {
    const res = await rawRequest(relay.port, get("/healthz", `Host: x\r\nX-Big: ${"a".repeat(20_000)}\r\n`));
    expect(expectRefusal(res, 431, "payload_too_large").message).toContain("headers");
  });

  it("an Expect other than 100-continue → 417; CONNECT → 405 with an empty Allow", async () => {
    const expectation = await rawRequest(relay.port, get("/healthz", "Host: x\r\nExpect: teapot\r\n"));
    expectRefusal(expectation, 417, "invalid_request");
    const tunnel = await rawRequest(
      relay.port,
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    expectRefusal(tunnel, 405, "not_found");
    expect(tunnel.headers.allow).toBe("");
  });

  it("a good request, then garbage on the same connection: the answers come in order, then it closes", async () => {
    const { received, closed } = await exchange(relay.port, `${get("/healthz")}GARBAGE\r\n\r\n`, {
      keepOpen: true,
    });
    const [first, second, ...rest] = parseResponses(received);
    expect(first).toMatchObject({ status: 200, body: '{"ok":true}' });
    expectRefusal(second!, 400, "invalid_request");
    expect(rest).toEqual([]);
    expect(closed).toBe(true);
  });

  it("nothing above was logged at error level", () => {
    expect(relay.lines.filter((l) => l.level >= logLevel.error)).toEqual([]);
  });
});

describe("a request that never arrives in full → 408 invalid_request", () => {
  it("answers Node's request timeout in the error shape", async () => {
    // Node times a request out after requestTimeout (60 s) and reports it through "clientError"; the
    // test raises that very error on a live connection instead of waiting a minute.
    const storage = await openSqliteStorage({ inMemory: true });
    const app = createApp(storage, { logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const accepted = once(app.server, "connection") as Promise<[Socket]>;
      const client = connect(listeningAt(app).port, "127.0.0.1");
      const [serverSide] = await accepted;
      const chunks: Buffer[] = [];
      client.on("data", (chunk: Buffer) => chunks.push(chunk));
      const closed = once(client, "close");
      client.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // headers never finished
      app.server.emit(
        "clientError",
        Object.assign(new Error("timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }),
        serverSide,
      );
      client.end();
      await closed;
      const [res, ...rest] = parseResponses(Buffer.concat(chunks));
      expectRefusal(res!, 408, "invalid_request");
      expect(rest).toEqual([]);
    } finally {
      await app.close();
      await storage.close();
    }
  });
});

describe("refused WebSocket handshakes are in the API's error shape, not ws's text/html", () => {
  const handshake = (change: Record<string, string | undefined>): string => {
    const lines: Record<string, string> = { ...handshakeLines() };
    for (const [name, value] of Object.entries(change)) {
      if (value === undefined) delete lines[name];
      else lines[name] = value;
    }
    return requestBytes(lines);
  };

  it("a wrong or missing Sec-WebSocket-Version → 400, naming the version spoken", async () => {
    for (const version of ["7", undefined]) {
      const res = await rawRequest(relay.port, handshake({ "sec-websocket-version": version }));
      expectRefusal(res, 400, "invalid_request");
      expect(res.headers["sec-websocket-version"]).toBe("13");
      expect(res.headers.connection).toBe("close");
    }
  });

  it("a missing or malformed key, a foreign Upgrade, a malformed subprotocol list → 400", async () => {
    for (const change of [
      { "sec-websocket-key": undefined },
      { "sec-websocket-key": "short" },
      { upgrade: "h2c" },
      { "sec-websocket-protocol": "a,,b" },
    ]) {
      const res = await rawRequest(relay.port, handshake(change));
      expectRefusal(res, 400, "invalid_request");
      expect(res.headers.connection).toBe("close");
    }
  });

  it("a handshake elsewhere than the push socket: unknown path → 404, an HTTP route → 400, POST → 405", async () => {
    expectRefusal(
      await rawRequest(relay.port, handshake({ "request-line": "GET /nowhere HTTP/1.1" })),
      404,
      "not_found",
    );
    const stray = await rawRequest(relay.port, handshake({ "request-line": "GET /healthz HTTP/1.1" }));
    expect(expectRefusal(stray, 400, "invalid_request").message).toContain("/v1/ws");
    expect(stray.headers.connection).toBe("close");
    expectRefusal(
      await rawRequest(relay.port, handshake({ "request-line": "POST /v1/ws HTTP/1.1" })),
      405,
      "not_found",
    );
  });

  it("whatever the answer, the relay closes a refused upgrade's connection, even one the client keeps open", async () => {
    for (const change of [
      { "request-line": "GET /v1/caucuses/%E0%A4%A/events HTTP/1.1" }, // refused before routing
      { "request-line": "GET /healthz HTTP/1.1" }, // refused by a hook
      { "request-line": "GET /nowhere HTTP/1.1" }, // not found
      { "sec-websocket-version": "7" }, // refused by ws
    ]) {
      const { received, closed } = await exchange(relay.port, handshake(change), { keepOpen: true });
      expect(
        parseResponses(received).map((r) => r.status),
        JSON.stringify(change),
      ).toHaveLength(1);
      expect(closed, JSON.stringify(change)).toBe(true);
    }
  });

  it("a handshake without Host → 400", async () => {
    expectRefusal(await rawRequest(relay.port, handshake({ host: undefined })), 400, "invalid_request");
  });

  it("a good handshake still opens the push socket", async () => {
    const m = await mediatorWithCaucus(fetchCall(relay.url));
    const socket = new TestSocket(`${relay.url.replace(/^http/, "ws")}/v1/ws`);
    await socket.opened();
    socket.send({ type: "auth", token: m.token });
    expect(await socket.next()).toEqual({ type: "ready", deviceId: m.device.deviceId });
    socket.ws.close();
  });
});

describe("malformed WebSocket frames: the right close code, one warn line per connection", () => {
  const badFrameLines = () => relay.lines.filter((l) => l.msg === "bad websocket frame");

  it.each([
    [
      "invalid UTF-8 in a text frame",
      clientFrame(0x1, Buffer.from([0xc3, 0x28])),
      1007,
      "WS_ERR_INVALID_UTF8",
    ],
    ["an unknown opcode", clientFrame(0x3, Buffer.from("x")), 1002, "WS_ERR_INVALID_OPCODE"],
    [
      "an unmasked client frame",
      clientFrame(0x1, Buffer.from("{}"), { masked: false }),
      1002,
      "WS_ERR_EXPECTED_MASK",
    ],
    [
      "a close frame with a reserved code",
      clientFrame(0x8, Buffer.from([0x03, 0xe7])),
      1002,
      "WS_ERR_INVALID_CLOSE_CODE",
    ],
    [
      "a frame over maxPayload",
      clientFrame(0x1, Buffer.alloc(0), { declaredLength: limits.frameBytes + 1 }),
      1009,
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
    ],
  ])("%s", async (_what, frame, closeCode, wsCode) => {
    const before = relay.lines.length;
    const { socket, closeCode: closed } = await openRawWebSocket(relay.port);
    socket.write(frame);
    expect(await closed).toBe(closeCode);
    socket.destroy();
    const logged = relay.lines.slice(before);
    const bad = logged.filter((l) => l.msg === "bad websocket frame");
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ level: logLevel.warn, code: wsCode, reason: expect.any(String) });
    expect(bad[0]!.reqId).toEqual(expect.any(String));
    expect(bad[0]).not.toHaveProperty("err");
    expect(JSON.stringify(bad[0])).not.toContain("    at ");
    expect(logged.filter((l) => l.level >= logLevel.error)).toEqual([]);
  });

  it("thousands of bad frames over many connections: exactly one line per connection", async () => {
    const before = badFrameLines().length;
    const connections = 40;
    const flood = Buffer.concat(Array.from({ length: 100 }, () => clientFrame(0x3, Buffer.from("xx"))));
    const closes = await Promise.all(
      Array.from({ length: connections }, async () => {
        const { socket, closeCode } = await openRawWebSocket(relay.port);
        socket.write(flood);
        const code = await closeCode;
        socket.destroy();
        return code;
      }),
    );
    expect(closes).toEqual(Array.from({ length: connections }, () => 1002));
    const lines = badFrameLines().slice(before);
    expect(lines).toHaveLength(connections);
    expect(new Set(lines.map((l) => l.reqId)).size).toBe(connections);
    expect(relay.lines.filter((l) => l.level >= logLevel.error)).toEqual([]);
  });
});
