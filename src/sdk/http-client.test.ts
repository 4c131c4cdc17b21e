import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, TransportError } from "./errors.js";
import { HttpClient } from "./http-client.js";

const caucusId = "0190f5a2-0000-7000-8000-000000000001";
const head = { seq: 0, hash: "0".repeat(64) };

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

let sent: Sent[];
let answer: { status: number; body: string };

beforeEach(() => {
  sent = [];
  answer = { status: 200, body: JSON.stringify({ events: [], head }) };
  vi.stubGlobal("fetch", (url: URL, init: RequestInit) => {
    sent.push({
      url: url.toString(),
      method: init.method ?? "GET",
      headers: init.headers as Record<string, string>,
      body: init.body as string | undefined,
    });
    return Promise.resolve(new Response(answer.body, { status: answer.status }));
  });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("HttpClient.call builds each request from the route table", () => {
  it("fills the path template with URL-encoded params and the query, and sends the token", async () => {
    const client = new HttpClient("http://relay.test:7700", () => Promise.resolve("tok"));
    expect(await client.call("listEvents", { params: { caucusId }, query: { after: 3 } })).toEqual({
      events: [],
      head,
    });
    // A value that would re-route the request stays inside its path segment.
    await client.call("listEvents", { params: { caucusId: "../me?x=1" } }).catch(() => undefined);
    expect(sent.map((s) => s.url)).toEqual([
      `http://relay.test:7700/v1/caucuses/${caucusId}/events?after=3`,
      "http://relay.test:7700/v1/caucuses/..%2Fme%3Fx%3D1/events",
    ]);
    expect(sent[0]).toMatchObject({ method: "GET", headers: { authorization: "Bearer tok" } });
  });

  it("sends a JSON body, and no token to an operation that takes none", async () => {
    const getToken = vi.fn(() => Promise.resolve("tok"));
    const client = new HttpClient("http://relay.test", getToken);
    answer = { status: 200, body: JSON.stringify({ nonce: "n".repeat(43), expiresAt: "soon" }) };
    await client.call("createChallenge", { body: { deviceId: caucusId } });
    expect(sent[0]).toEqual({
      url: "http://relay.test/v1/auth/challenge",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ deviceId: caucusId }),
    });
    expect(getToken).not.toHaveBeenCalled();
  });

  it("refuses a response that does not match the table's schema (bad_response)", async () => {
    answer = { status: 200, body: JSON.stringify({ events: [], head, extra: true }) };
    const call = new HttpClient("http://relay.test").call("listEvents", { params: { caucusId } });
    await expect(call).rejects.toBeInstanceOf(TransportError);
    await expect(call).rejects.toMatchObject({ code: "bad_response" });
  });

  it("turns the server's {error, message} into an ApiError with its code and status", async () => {
    answer = { status: 404, body: JSON.stringify({ error: "not_found", message: "not found" }) };
    const call = new HttpClient("http://relay.test").call("getWelcome", { params: { caucusId } });
    await expect(call).rejects.toBeInstanceOf(ApiError);
    await expect(call).rejects.toMatchObject({ code: "not_found", status: 404 });
  });

  it("types each call from its table entry", () => {
    const client = new HttpClient("http://relay.test");
    const typeOnly = (_: () => unknown) => undefined;
    // @ts-expect-error listEvents needs its path params
    typeOnly(() => client.call("listEvents"));
    // @ts-expect-error createChannel needs its body
    typeOnly(() => client.call("createChannel"));
    // @ts-expect-error getMe takes no body
    typeOnly(() => client.call("getMe", { body: {} }));
    // @ts-expect-error no such operation
    typeOnly(() => client.call("listCaucuses"));
    typeOnly(() => client.call("getMe"));
    expect(sent).toEqual([]);
  });
});

describe("HttpClient.call and the relay's rate limits", () => {
  const limited = (retryAfter: number) => ({
    status: 429,
    text: JSON.stringify({ error: "rate_limited", message: "slow down", retry_after: retryAfter }),
  });
  /** A transport answering from `answers` in turn, and a wait that only records how long. */
  function scripted(answers: { status: number; text: string }[]) {
    const waits: number[] = [];
    const calls: string[] = [];
    const client = new HttpClient(
      "http://relay.test",
      () => Promise.resolve("tok"),
      (request) => {
        calls.push(request.method);
        return Promise.resolve(answers.shift()!);
      },
      (ms) => (waits.push(ms), Promise.resolve()),
    );
    return { client, waits, calls };
  }

  it("asks a GET again after the retry_after the relay named", async () => {
    const { client, waits, calls } = scripted([
      limited(2),
      limited(1),
      { status: 200, text: JSON.stringify({ events: [], head }) },
    ]);
    expect(await client.call("listEvents", { params: { caucusId } })).toEqual({ events: [], head });
    expect(waits).toEqual([2000, 1000]);
    expect(calls).toEqual(["GET", "GET", "GET"]);
  });

  it("gives up after three waits, or at once for a wait over a minute, with the wait in the error", async () => {
    const stubborn = scripted([limited(1), limited(1), limited(1), limited(1)]);
    const error = await stubborn.client.call("listEvents", { params: { caucusId } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "rate_limited", status: 429, retryAfter: 1 });
    expect(stubborn.waits).toHaveLength(3);
    const long = scripted([limited(61)]);
    await expect(long.client.call("listEvents", { params: { caucusId } })).rejects.toMatchObject({
      retryAfter: 61,
    });
    expect(long.waits).toEqual([]);
  });

  it("does not repeat a POST: the caller gets an ApiError that says when to try again", async () => {
    const { client, waits } = scripted([limited(5)]);
    const error = await client
      .call("createChallenge", { body: { deviceId: caucusId } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: "rate_limited", retryAfter: 5 });
    expect((error as ApiError).shouldRetry()).toBe(true);
    expect(waits).toEqual([]);
  });
});
