import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes, fillPath, routes } from "../src/protocol/index.js";
import { TestSocket, fetchCall, mediatorWithCaucus, postApplication } from "../src/server/test-helpers.js";
import { logLevel, startLoggedRelay, type LoggedRelay } from "./helpers/logged-relay.js";
import {
  exchange,
  handshakeLines,
  parseResponses,
  requestBytes,
  type RawResponse,
} from "./helpers/raw-http.js";

/**
 * A bounded fuzz run (issue 10): a few thousand hostile requests, over raw sockets (what no HTTP
 * client would send: broken request lines, lying lengths, truncated requests, stray upgrades) and
 * over fetch. The relay must never answer 5xx, must answer every refusal in the one error shape,
 * must log nothing at error level, and must still serve a legitimate client afterwards.
 *
 * The run is seeded; a failure names its seed, and FUZZ_SEED=<seed> replays it.
 */

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const rawRequests = 2_000;
const fetchRequests = 600;
const parallel = 48;

/** mulberry32: small, seedable, good enough to pick cases. */
function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const random = prng(seed);
const chance = (p: number): boolean => random() < p;
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const junk = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(int(256))).join("");

const routeList = Object.values(routes);
const ids = [randomUUID(), "x", "", "%00", "..", "a".repeat(700), "%E0%A4%A", "-1", "null", "é"];

function path(): string {
  if (chance(0.55)) {
    const p = fillPath(pick(routeList).path, () => pick(ids));
    return chance(0.2)
      ? `${p}?${pick(["limit=-1", "after=x", "a=%zz", junk(8), "limit=99999999999999999999"])}`
      : p;
  }
  return pick([
    "/",
    "/v1",
    "/v1/",
    "/v1/ws",
    "/v1/ws?token=x",
    "*",
    "http://elsewhere.test/healthz",
    "//healthz",
    "/%",
    "/%zz",
    "/a b",
    "/healthz#fragment",
    "/openapi.json",
    "/v1/caucuses/../../etc/passwd",
    "/index.html",
    "/assets/x.js",
    `/${"a".repeat(int(9_000))}`,
    `/${junk(12)}`,
  ]);
}

const methods = [
  ...["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].flatMap((m) => [m, m, m]),
  "TRACE",
  "CONNECT",
  "PURGE",
  "PROPFIND",
  "QUERY",
  "get",
  "FOO",
  "G ET",
  "",
];
const versions = [
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/2.0",
  "HTTP/0.9",
  "HTTP/1.2",
  "HTTP/x",
  "",
];

const bodies = (): string =>
  pick([
    "",
    "{}",
    `{"deviceId":"${randomUUID()}"}`,
    `{"deviceId":"${randomUUID()}","authPublicKey":"${"A".repeat(43)}"}`,
    '{"__proto__":{"admin":true}}',
    "[1,2,3]",
    "null",
    '{"a":',
    junk(int(200)),
    JSON.stringify({ x: "y".repeat(int(5_000)) }),
  ]);

/** Header lines, some well-formed, some not. */
function headerLines(body: string): string[] {
  const lines: string[] = [];
  if (chance(0.88))
    lines.push(
      pick(["Host: relay.test", "Host: relay.test", "Host:", "Host: a\r\nHost: b", `Host: ${junk(6)}`]),
    );
  if (chance(0.5))
    lines.push(
      `Content-Type: ${pick(["application/json", "application/json", "text/plain", "application/json; charset=utf-16", "multipart/form-data; boundary=x", junk(5), ""])}`,
    );
  const length = Buffer.byteLength(body, "latin1");
  if (chance(0.7))
    lines.push(
      `Content-Length: ${pick([String(length), String(length), String(length + 5), String(Math.max(length - 3, 0)), "-1", "99999999999", "abc", `${length}, ${length + 1}`])}`,
    );
  if (chance(0.1)) lines.push(`Transfer-Encoding: ${pick(["chunked", "gzip", "chunked, chunked", junk(4)])}`);
  if (chance(0.15))
    lines.push(`Connection: ${pick(["Upgrade", "close", "keep-alive", "Upgrade, HTTP2-Settings", junk(4)])}`);
  if (chance(0.15)) lines.push(`Upgrade: ${pick(["websocket", "websocket", "h2c", "WebSocket", junk(4)])}`);
  if (chance(0.12)) lines.push(`Sec-WebSocket-Key: ${pick(["dGhlIHNhbXBsZSBub25jZQ==", "short", junk(10)])}`);
  if (chance(0.12)) lines.push(`Sec-WebSocket-Version: ${pick(["13", "8", "7", "", junk(3)])}`);
  if (chance(0.05)) lines.push(`Sec-WebSocket-Protocol: ${pick(["a,,b", "chat", junk(5)])}`);
  if (chance(0.05)) lines.push(`Sec-WebSocket-Extensions: ${pick(["permessage-deflate; x=", junk(5)])}`);
  if (chance(0.06)) lines.push(`Expect: ${pick(["100-continue", "teapot", junk(4)])}`);
  if (chance(0.2))
    lines.push(
      `Authorization: ${pick(["Bearer x", "Bearer ", "Basic Zm9vOmJhcg==", `Bearer ${"t".repeat(int(3_000))}`])}`,
    );
  if (chance(0.1)) lines.push(`Origin: ${pick(["http://evil.test", "null", junk(6)])}`);
  if (chance(0.05)) lines.push(`X-Big: ${"b".repeat(17_000 + int(5_000))}`);
  if (chance(0.05))
    lines.push(
      pick(["Bad Header: 1", "NoColon", "X-Fold: a\r\n  folded", `X-Nul: a\0b`, `${junk(5)}: ${junk(5)}`]),
    );
  return lines;
}

interface RawCase {
  bytes: Buffer;
  head: boolean;
  keepOpen: boolean;
  abort: boolean;
}

function rawCase(): RawCase {
  // A push socket opened properly, then sent junk for frames.
  if (chance(0.03)) {
    const bytes = Buffer.concat([
      Buffer.from(requestBytes(handshakeLines())),
      Buffer.from(junk(1 + int(60)), "latin1"),
    ]);
    return { bytes, head: false, keepOpen: false, abort: false };
  }
  const method = pick(methods);
  const body = ["GET", "HEAD"].includes(method) && chance(0.8) ? "" : bodies();
  const chunked = chance(0.08);
  const framed = chunked ? `${Buffer.byteLength(body, "latin1").toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
  const lines = [`${method} ${path()} ${pick(versions)}`.trimEnd(), ...headerLines(body)];
  if (chunked) lines.push("Transfer-Encoding: chunked");
  let text = `${lines.join("\r\n")}\r\n\r\n${framed}`;
  const head = method === "HEAD";
  // A good request first, answered on the same connection before this one is even read.
  if (!head && chance(0.08)) text = `GET /healthz HTTP/1.1\r\nHost: relay.test\r\n\r\n${text}`;
  let bytes = Buffer.from(text, "latin1");
  const truncated = chance(0.12);
  if (truncated) bytes = bytes.subarray(0, int(bytes.length));
  return { bytes, head, keepOpen: !truncated && chance(0.1), abort: chance(0.04) };
}

/** What any answer must be: no 5xx; a refusal in the one error shape; a success a route documents. */
function problemsWith(res: RawResponse, head: boolean): string[] {
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`status ${res.status}`);
  if (res.status === 101 || res.status === 100) return problems;
  if (res.status < 200 || (res.status >= 300 && res.status < 400)) problems.push(`status ${res.status}`);
  // A success may have no body (a CORS preflight's 204); a refusal has one, unless asked with HEAD.
  if (res.body === "" && (head || res.status < 400)) return problems;
  if (!/^application\/json(;|$)/.test(res.headers["content-type"] ?? "")) {
    problems.push(`content-type ${res.headers["content-type"]}`);
    return problems;
  }
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return [...problems, `body is not JSON: ${res.body.slice(0, 80)}`];
  }
  if (res.status >= 400) {
    if (typeof body !== "object" || body === null) return [...problems, `refusal body ${res.body}`];
    const { error, message, ...rest } = body as Record<string, unknown>;
    if (!errorCodes.includes(error as never)) problems.push(`code ${String(error)}`);
    if (typeof message !== "string" || message === "") problems.push("no message");
    if (Object.keys(rest).length > 0) problems.push(`extra fields ${Object.keys(rest).join(",")}`);
  } else if (!routeList.some((r) => r.response.safeParse(body).success)) {
    problems.push(`undocumented success body: ${res.body.slice(0, 80)}`);
  }
  return problems;
}

/** Runs every item, `parallel` at a time: a slow one holds up no others. */
async function inPool<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

describe(`hostile requests (FUZZ_SEED=${seed})`, () => {
  let relay: LoggedRelay;
  beforeAll(async () => {
    relay = await startLoggedRelay();
  });
  afterAll(() => relay.close());

  it(`${rawRequests} over raw sockets and ${fetchRequests} over fetch: no 5xx, every refusal in the error shape`, async () => {
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

    const cases = Array.from({ length: rawRequests }, rawCase);
    await inPool(cases, async (c) => {
      const { received } = await exchange(relay.port, c.bytes, {
        keepOpen: c.keepOpen || c.abort,
        deadlineMs: c.abort ? 5 : 1_500,
        // Kept open: done once a whole answer is in.
        until: c.keepOpen ? (bytes) => completeAnswers(bytes, c.head) : undefined,
      });
      if (c.abort) return;
      let responses: RawResponse[];
      try {
        responses = answersTo(received, c.head);
      } catch (error) {
        failures.push(
          `${(error as Error).message}\n  request: ${JSON.stringify(c.bytes.toString("latin1").slice(0, 300))}`,
        );
        return;
      }
      for (const res of responses) {
        count(res.status);
        const problems = problemsWith(res, c.head);
        if (problems.length > 0)
          failures.push(
            `${problems.join("; ")}\n  request: ${JSON.stringify(c.bytes.toString("latin1").slice(0, 300))}`,
          );
      }
    });

    const fetchCases = Array.from({ length: fetchRequests }, () => {
      const method = pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
      const headers: Record<string, string> = {};
      if (chance(0.6))
        headers["content-type"] = pick([
          "application/json",
          "text/plain",
          "application/xml",
          "application/json; charset=latin1",
        ]);
      if (chance(0.3))
        headers.authorization = pick(["Bearer x", "Bearer ", "Basic x", `Bearer ${randomUUID()}`]);
      if (chance(0.2)) headers.origin = pick(["http://evil.test", "null"]);
      if (method === "OPTIONS" && chance(0.5))
        headers["access-control-request-method"] = pick(["POST", "GET", "TRACE"]);
      return {
        method,
        path: path().replace(/[^\x21-\x7e]/g, (ch) => encodeURIComponent(ch)),
        headers,
        body: ["GET", "HEAD"].includes(method) ? undefined : bodies(),
      };
    });
    await inPool(fetchCases, async (c) => {
      const described = `${c.method} ${c.path.slice(0, 120)} ${JSON.stringify(c.headers)}`;
      let res: Response;
      try {
        res = await fetch(relay.url + (c.path.startsWith("/") ? c.path : `/${c.path}`), {
          method: c.method,
          headers: c.headers,
          body: c.body,
        });
      } catch (error) {
        failures.push(`fetch failed (${String((error as Error).cause ?? error)})\n  request: ${described}`);
        return;
      }
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => (headers[name] = value));
      const answer = { status: res.status, headers, body: await res.text() };
      count(answer.status);
      const problems = problemsWith(answer, c.method === "HEAD");
      if (problems.length > 0) failures.push(`${problems.join("; ")}\n  request: ${described}`);
    });

    expect(failures.slice(0, 10), `${failures.length} failures`).toEqual([]);
    // The run reached the relay's refusals of every kind, not only one answer over and over.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 400, 404, 405, 415, 431]));
    expect(relay.lines.filter((l) => l.level >= logLevel.error)).toEqual([]);
    // Junk frames cost one warn line per push socket at most, and no stack.
    const frameLines = relay.lines.filter((l) => l.msg === "bad websocket frame");
    expect(new Set(frameLines.map((l) => l.reqId)).size).toBe(frameLines.length);
    expect(frameLines.filter((l) => l.level !== logLevel.warn || "err" in l)).toEqual([]);
  });

  it("afterwards the relay is up and a legitimate client registers, logs in, posts, syncs and gets pushes", async () => {
    const call = fetchCall(relay.url);
    expect(await call("GET", "/healthz")).toEqual({ status: 200, body: { ok: true } });
    const m = await mediatorWithCaucus(call);
    const socket = new TestSocket(`${relay.url.replace(/^http/, "ws")}/v1/ws`);
    await socket.opened();
    socket.send({ type: "auth", token: m.token });
    expect(await socket.next()).toEqual({ type: "ready", deviceId: m.device.deviceId });
    const seq = await postApplication(call, m);
    expect(await socket.next()).toEqual({ type: "event", caucusId: m.caucusId, seq });
    const events = await call("GET", `/v1/caucuses/${m.caucusId}/events`, undefined, m.token);
    expect(events.status).toBe(200);
    expect((events.body as { events: { seq: number }[] }).events.map((e) => e.seq)).toContain(seq);
    socket.ws.close();
  });
});

/**
 * The answers in `bytes`. A HEAD that Node could not parse is refused with a body all the same:
 * nothing knows it was a HEAD, and the connection closes after it.
 */
function answersTo(bytes: Buffer, head: boolean): RawResponse[] {
  if (!head) return parseResponses(bytes);
  try {
    return parseResponses(bytes, { head });
  } catch {
    return parseResponses(bytes);
  }
}

/** Whether `bytes` hold at least one whole answer (so a kept-open connection need not wait). */
function completeAnswers(bytes: Buffer, head: boolean): boolean {
  try {
    return answersTo(bytes, head).some((r) => r.status >= 101 && r.status !== 100);
  } catch {
    return false;
  }
}
