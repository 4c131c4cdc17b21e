import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes, limits, type ErrorCode } from "../src/protocol/index.js";
import { createApp } from "../src/server/app.js";
import { listeningAt } from "../src/server/start-server.js";
import { openSqliteStorage } from "../src/server/storage/sqlite/sqlite-storage.js";
import { logLevel, startLoggedRelay, type LoggedRelay } from "./helpers/logged-relay.js";
import { exchange, parseResponses, rawRequest, type RawResponse } from "./helpers/raw-http.js";

/**
 * Issue 10: every refusal the relay makes is `{ error, message }` with a stable code and
 * `application/json`, also those Node's HTTP server, Fastify and ws would make in shapes of their
 * own.
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
