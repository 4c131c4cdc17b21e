import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../src/protocol/index.js";
import {
  TestSocket,
  fetchCall,
  mediatorWithCaucus,
  randomB64,
  type Call,
} from "../src/server/test-helpers.js";
import { startLoggedRelay, type LoggedRelay } from "./helpers/logged-relay.js";
import { parsePrometheus, sample, type Sample } from "./helpers/prometheus.js";

/**
 * Issue 10, observability: /metrics (on a listener of its own) counts what a real exchange did,
 * by route template and stable code, and tells nothing about who talks to whom; each request's
 * log line carries its route, status and a refusal's code, and no credential or ciphertext.
 */

let relay: LoggedRelay;
let call: Call;
beforeAll(async () => {
  relay = await startLoggedRelay({ metricsPort: 0 });
  call = fetchCall(relay.url);
});
afterAll(() => relay.close());

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`${relay.metricsUrl!}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parsePrometheus(text) };
}

describe("/metrics after a real exchange", () => {
  let mediator: Awaited<ReturnType<typeof mediatorWithCaucus>>;
  const ciphertexts = [randomB64(32), randomB64(100)];
  let socket: TestSocket;
  let scraped: { text: string; samples: Sample[] };

  beforeAll(async () => {
    mediator = await mediatorWithCaucus(call);
    socket = new TestSocket(`${relay.url.replace(/^http/, "ws")}/v1/ws`);
    await socket.opened();
    socket.send({ type: "auth", token: mediator.token });
    expect(await socket.next()).toMatchObject({ type: "ready" });
    for (const ciphertext of ciphertexts) {
      const res = await call(
        "POST",
        `/v1/caucuses/${mediator.caucusId}/events`,
        { eventId: randomUUID(), kind: "application", epoch: 0, ciphertext },
        mediator.token,
      );
      expect(res.status).toBe(201);
      expect(await socket.next()).toMatchObject({ type: "event" });
    }
    expect((await call("GET", "/v1/nothing")).status).toBe(404);
    expect((await call("GET", "/v1/me", undefined, "not-a-token")).status).toBe(401);
    scraped = await scrape();
  });
  afterAll(() => socket.ws.terminate());

  it("counts the events appended and their ciphertext bytes", () => {
    const { samples } = scraped;
    expect(sample(samples, "backchannel_events_appended_total")).toBe(2);
    expect(sample(samples, "backchannel_ciphertext_bytes_appended_total")).toBe(32 + 100);
    expect(sample(samples, "backchannel_append_duration_seconds_count")).toBe(2);
  });

  it("times every group commit, and the commits hold both appends", () => {
    const { samples } = scraped;
    const commits = sample(samples, "backchannel_storage_commit_duration_seconds_count")!;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(sample(samples, "backchannel_storage_commit_writes_count")).toBe(commits);
    expect(sample(samples, "backchannel_storage_commit_writes_sum")).toBe(2);
    expect(sample(samples, "backchannel_storage_commit_failures_total")).toBe(0);
  });

  it("counts requests by route template, method and status, and times them", () => {
    const { samples } = scraped;
    const appends = { route: "/v1/caucuses/:caucusId/events", method: "POST" };
    expect(sample(samples, "backchannel_http_requests_total", { ...appends, status: "201" })).toBe(2);
    expect(sample(samples, "backchannel_http_request_duration_seconds_count", appends)).toBe(2);
    expect(
      sample(samples, "backchannel_http_requests_total", {
        route: "/v1/mediators",
        method: "POST",
        status: "201",
      }),
    ).toBe(1);
  });

  it("counts refusals by stable code, a request without a route under (no route)", () => {
    const { samples } = scraped;
    expect(
      sample(samples, "backchannel_http_refusals_total", { route: "(no route)", code: "not_found" }),
    ).toBe(1);
    expect(
      sample(samples, "backchannel_http_refusals_total", { route: "/v1/me", code: "unauthenticated" }),
    ).toBe(1);
    for (const s of samples.filter((s) => s.name === "backchannel_http_refusals_total"))
      expect(errorCodes).toContain(s.labels.code);
  });

  it("shows the open push socket, and Node's own process metrics", () => {
    const { samples } = scraped;
    expect(sample(samples, "backchannel_push_sockets")).toBe(1);
    expect(sample(samples, "backchannel_draining")).toBe(0);
    // One node, no NATS: no link to report.
    expect(sample(samples, "backchannel_nats_link_up")).toBeUndefined();
    expect(sample(samples, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(sample(samples, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  });

  it("names no caucus, channel or device, no token and no raw URL", () => {
    const { text, samples } = scraped;
    for (const secret of [mediator.caucusId, mediator.channelId, mediator.device.deviceId, mediator.token])
      expect(text).not.toContain(secret);
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    for (const s of samples) for (const value of Object.values(s.labels)) expect(value).not.toMatch(uuid);
  });

  it("logs one line per request with route, status and a refusal's code; no token, no ciphertext", () => {
    const refused = relay.lines.find((l) => l.msg === "request" && l.route === "/v1/me");
    expect(refused).toMatchObject({ method: "GET", status: 401, code: "unauthenticated" });
    expect(typeof refused!.ms).toBe("number");
    const appended = relay.lines.filter(
      (l) => l.msg === "request" && l.route === "/v1/caucuses/:caucusId/events",
    );
    expect(appended).toHaveLength(2);
    for (const line of appended) expect(line).not.toHaveProperty("code");
    const all = relay.lines.map((l) => JSON.stringify(l)).join("\n");
    for (const secret of [mediator.token, ...ciphertexts, mediator.caucusId])
      expect(all).not.toContain(secret);
  });
});

describe("the metrics listener", () => {
  it("is apart from the API: the API port has no /metrics", async () => {
    const res = await fetch(`${relay.url}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });

  it("listens on loopback by default and serves nothing but GET /metrics, refusing in the API's shape", async () => {
    expect(relay.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const other = await fetch(`${relay.metricsUrl!}/v1/me`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: "not_found", message: expect.any(String) as string });
    const post = await fetch(`${relay.metricsUrl!}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
    expect(Object.keys((await post.json()) as object).sort()).toEqual(["error", "message"]);
  });
});
