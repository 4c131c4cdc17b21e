import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { errorResponse, loginSigningString, parse } from "../../protocol/index.js";
import { createApp } from "../app.js";
import type { AppOptions } from "../config.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage } from "../storage/storage.js";
import {
  TestSocket,
  fetchCall,
  login,
  mediatorWithCaucus,
  newDevice,
  randomB64,
  type Call,
  type TestDevice,
} from "../test-helpers.js";
import {
  defaultLimits,
  limitEnvName,
  limitsEnv,
  limitsFromEnv,
  resolveLimits,
  type LimitsOptions,
} from "./limits-config.js";
import { loadTestLimits } from "./load-test-limits.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveOptionsFromEnv } from "../main.js";

/**
 * Each limit refuses with its code (429 rate_limited with retry_after and Retry-After, or 413
 * quota_exceeded), and the legitimate client on another address or device still gets through.
 * Requests go through app.inject with the client's address set, so one test plays many clients.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function relay(limits: LimitsOptions, options: AppOptions = {}): Promise<FastifyInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-limits-"));
  const storage: Storage = await openSqliteStorage({ dataDir });
  const app = createApp(storage, {
    logger: false,
    registration: "open",
    ...options,
    limits: { ...loadTestLimits, ...limits },
  });
  cleanup.push(async () => {
    await app.close();
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return app;
}

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  retryAfterHeader: string | undefined;
}

/** Requests from `ip` (app.inject's remote address), in the shape test-helpers' Call has. */
function from(app: FastifyInstance, ip: string): Call & { raw: typeof request } {
  const request = async (
    method: "GET" | "POST" | "PUT" | "DELETE",
    url: string,
    body?: unknown,
    token?: string,
    headers: Record<string, string> = {},
  ): Promise<Answer> => {
    const res = await app.inject({
      method,
      url,
      remoteAddress: ip,
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      headers: {
        ...headers,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    const retryAfter = res.headers["retry-after"];
    return {
      status: res.statusCode,
      body: res.body ? (JSON.parse(res.body) as unknown) : undefined,
      retryAfterHeader: typeof retryAfter === "string" ? retryAfter : undefined,
    };
  };
  const call: Call = (method, url, body, token) => request(method, url, body, token);
  return Object.assign(call, { raw: request });
}

/** A 429 in the one error shape, with retry_after within the window and the same Retry-After. */
function expectRateLimited(answer: Answer, windowSeconds: number): void {
  expect(answer.status).toBe(429);
  const body = parse(errorResponse, answer.body);
  expect(body.error).toBe("rate_limited");
  expect(body.retry_after).toBeGreaterThanOrEqual(1);
  expect(body.retry_after).toBeLessThanOrEqual(windowSeconds);
  expect(answer.retryAfterHeader).toBe(String(body.retry_after));
}

async function register(call: Call): Promise<TestDevice> {
  const device = newDevice();
  const reg = await call("POST", "/v1/mediators", {
    deviceId: device.deviceId,
    authPublicKey: device.publicKey,
  });
  expect(reg.status).toBe(201);
  return device;
}

const post = (
  call: Call,
  m: { token: string; caucusId: string },
  bytes = 32,
  kind = "application",
  epoch = 0,
) =>
  call(
    "POST",
    `/v1/caucuses/${m.caucusId}/events`,
    { eventId: randomUUID(), kind, epoch, ciphertext: randomB64(bytes) },
    m.token,
  );

describe("rate limits", () => {
  it("requests per address: the sixth of five is refused; another address goes on", async () => {
    const app = await relay({ requestsPerIp: { points: 5, seconds: 60 } });
    const a = from(app, "198.51.100.1");
    for (let i = 0; i < 5; i++) expect((await a.raw("GET", "/healthz")).status).toBe(200);
    expectRateLimited(await a.raw("GET", "/healthz"), 60);
    // Every route counts, unknown ones too, and the refusal comes before routing.
    expectRateLimited(await a.raw("GET", "/v1/nowhere"), 60);
    expect((await from(app, "198.51.100.2").raw("GET", "/healthz")).status).toBe(200);
  });

  it("X-Forwarded-For names the client only behind a trusted proxy", async () => {
    const limit = { requestsPerIp: { points: 2, seconds: 60 } };
    const direct = from(await relay(limit), "203.0.113.9");
    // Not trusted: a client choosing a new header each time is still one address.
    for (let i = 0; i < 2; i++)
      expect(
        (await direct.raw("GET", "/healthz", undefined, undefined, { "x-forwarded-for": `10.0.0.${i}` }))
          .status,
      ).toBe(200);
    expectRateLimited(
      await direct.raw("GET", "/healthz", undefined, undefined, { "x-forwarded-for": "10.0.0.7" }),
      60,
    );

    const proxy = from(await relay(limit, { trustProxy: "127.0.0.1" }), "127.0.0.1");
    const via = (client: string) =>
      proxy.raw("GET", "/healthz", undefined, undefined, { "x-forwarded-for": client });
    for (let i = 0; i < 2; i++) expect((await via("192.0.2.1")).status).toBe(200);
    expectRateLimited(await via("192.0.2.1"), 60);
    expect((await via("192.0.2.2")).status).toBe(200);
  });

  it("requests per device: the device over its budget is refused; another device on the same address is not", async () => {
    const app = await relay({ requestsPerDevice: { points: 3, seconds: 60 } });
    const call = from(app, "198.51.100.3");
    const [one, two] = [await register(call), await register(call)];
    // Logging in is not an authenticated request: it does not count.
    const [t1, t2] = [await login(call, one), await login(call, two)];
    for (let i = 0; i < 3; i++) expect((await call("GET", "/v1/me", undefined, t1)).status).toBe(200);
    expectRateLimited(await from(app, "198.51.100.4").raw("GET", "/v1/me", undefined, t1), 60);
    expect((await call("GET", "/v1/me", undefined, t2)).status).toBe(200);
  });

  it("logins per address: challenges are refused before a row is written; another address logs in", async () => {
    const app = await relay({ loginsPerIp: { points: 4, seconds: 60 } });
    const a = from(app, "198.51.100.5");
    const device = await register(a);
    for (let i = 0; i < 4; i++)
      expect((await a("POST", "/v1/auth/challenge", { deviceId: randomUUID() })).status).toBe(200);
    expectRateLimited(await a.raw("POST", "/v1/auth/challenge", { deviceId: device.deviceId }), 60);
    expect(await login(from(app, "198.51.100.6"), device)).toMatch(/.+/);
  });

  it("failed logins: ten bad signatures and the device is refused from that address, not from another", async () => {
    const app = await relay({ failedLogins: { points: 10, seconds: 900 } });
    const attacker = from(app, "198.51.100.7");
    const victim = await register(attacker);
    const forger = newDevice();
    const attempt = async (call: typeof attacker) => {
      const { nonce } = (await call("POST", "/v1/auth/challenge", { deviceId: victim.deviceId })).body as {
        nonce: string;
      };
      return call.raw("POST", "/v1/auth/session", {
        deviceId: victim.deviceId,
        nonce,
        signature: forger.sign(loginSigningString(victim.deviceId, nonce)),
      });
    };
    for (let i = 0; i < 10; i++)
      expect((await attempt(attacker)).body).toMatchObject({ error: "signature_invalid" });
    // The eleventh is refused before its signature is looked at, the challenge too.
    expectRateLimited(await attacker.raw("POST", "/v1/auth/challenge", { deviceId: victim.deviceId }), 900);
    // The device itself, from where it is, logs in; another device from the attacker's address too.
    expect(await login(from(app, "198.51.100.8"), victim)).toMatch(/.+/);
    expect(await login(attacker, await register(attacker))).toMatch(/.+/);
  });

  it("posts per caucus: a device over its budget in one caucus still posts in another", async () => {
    const app = await relay({ postsPerCaucus: { points: 3, seconds: 60 } });
    const call = from(app, "198.51.100.9");
    const m = await mediatorWithCaucus(call);
    for (let i = 0; i < 3; i++) expect((await post(call, m)).status).toBe(201);
    expectRateLimited(
      await from(app, "198.51.100.9").raw(
        "POST",
        `/v1/caucuses/${m.caucusId}/events`,
        {
          eventId: randomUUID(),
          kind: "application",
          epoch: 0,
          ciphertext: randomB64(32),
        },
        m.token,
      ),
      60,
    );
    const other = await call("POST", `/v1/channels/${m.channelId}/caucuses`, {}, m.token);
    expect(
      (await post(call, { token: m.token, caucusId: (other.body as { caucusId: string }).caucusId })).status,
    ).toBe(201);
  });
});

describe("quotas", () => {
  it("bytes per caucus: application messages past it get 413 quota_exceeded; commits still land; other caucuses go on", async () => {
    const app = await relay({ caucusBytes: 1000 });
    const call = from(app, "198.51.100.10");
    const m = await mediatorWithCaucus(call);
    expect((await post(call, m, 600)).status).toBe(201);
    const refused = await post(call, m, 600);
    expect(refused.status).toBe(413);
    expect(parse(errorResponse, refused.body)).toMatchObject({ error: "quota_exceeded" });
    expect((refused.body as { message: string }).message).toMatch(
      /caucus holds 600 bytes of ciphertext; the relay allows a caucus 1000 bytes/,
    );
    expect((await post(call, m, 400)).status).toBe(201); // exactly full
    // A mediator must always be able to re-key (remove a member), so commits pass the quota.
    expect((await post(call, m, 600, "commit", 0)).status).toBe(201);
    const elsewhere = await mediatorWithCaucus(call);
    expect((await post(call, elsewhere, 600)).status).toBe(201);
  });

  it("bytes per channel: all its caucuses together", async () => {
    const app = await relay({ caucusBytes: 10_000, channelBytes: 1000 });
    const call = from(app, "198.51.100.11");
    const m = await mediatorWithCaucus(call);
    expect((await post(call, m, 600)).status).toBe(201);
    const second = await call("POST", `/v1/channels/${m.channelId}/caucuses`, {}, m.token);
    const refused = await post(
      call,
      { token: m.token, caucusId: (second.body as { caucusId: string }).caucusId },
      600,
    );
    expect(refused.status).toBe(413);
    expect((refused.body as { message: string }).message).toMatch(/channel/);
  });

  it("page size by bytes: a page stops after pageBytes of ciphertext and says where the head is", async () => {
    const app = await relay({ pageBytes: 1000 });
    const call = from(app, "198.51.100.12");
    const m = await mediatorWithCaucus(call);
    for (let i = 0; i < 5; i++) expect((await post(call, m, 600)).status).toBe(201);
    const page = await call("GET", `/v1/caucuses/${m.caucusId}/events?after=0`, undefined, m.token);
    // 600, then 1,200 >= 1,000: the crossing event is included so a page always makes progress.
    expect((page.body as { events: unknown[] }).events).toHaveLength(2);
    expect((page.body as { head: { seq: number } }).head.seq).toBe(5);
  });
});

describe("push sockets per device", () => {
  it("the third socket of a device allowed two gets rate_limited and close code 4429; another device connects", async () => {
    const app = await relay({ socketsPerDevice: 2 });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as { port: number };
    const call = fetchCall(`http://127.0.0.1:${port}`);
    const [one, two] = [await mediatorWithCaucus(call), await mediatorWithCaucus(call)];
    const open = async (token: string) => {
      const s = new TestSocket(`ws://127.0.0.1:${port}/v1/ws`);
      await s.opened();
      s.send({ type: "auth", token });
      return { socket: s, first: await s.next() };
    };
    const held = [await open(one.token), await open(one.token)];
    for (const h of held) expect(h.first).toMatchObject({ type: "ready" });
    const third = await open(one.token);
    expect(third.first).toMatchObject({ type: "error", error: "rate_limited" });
    expect(await third.socket.closed).toMatchObject({ code: 4429 });
    expect((await open(two.token)).first).toMatchObject({ type: "ready" });
    // A socket closed gives its place back.
    held[0]!.socket.ws.close();
    await held[0]!.socket.closed;
    await expect.poll(async () => (await open(one.token)).first.type).toBe("ready");
    for (const s of [...held, third]) s.socket.ws.terminate();
  });
});

describe("configuration", () => {
  it("reads BACKCHANNEL_LIMITS_* and refuses what it cannot read, naming the variable", () => {
    expect(
      limitsFromEnv({
        BACKCHANNEL_LIMITS_REQUESTS_PER_IP: "100/10",
        BACKCHANNEL_LIMITS_CAUCUS_BYTES: "2048",
      }),
    ).toEqual({ requestsPerIp: { points: 100, seconds: 10 }, caucusBytes: 2048 });
    expect(() => limitsFromEnv({ BACKCHANNEL_LIMITS_REQUESTS_PER_IP: "100" })).toThrow(
      /BACKCHANNEL_LIMITS_REQUESTS_PER_IP must be POINTS\/SECONDS/,
    );
    expect(() => limitsFromEnv({ BACKCHANNEL_LIMITS_SOCKETS_PER_DEVICE: "0" })).toThrow(
      /BACKCHANNEL_LIMITS_SOCKETS_PER_DEVICE must be a positive whole number/,
    );
    // What the suite sets for relays it starts as processes reads back as it was.
    expect(limitsFromEnv(limitsEnv(loadTestLimits))).toEqual(loadTestLimits);
    expect(() => resolveLimits({ pageBytes: -1 })).toThrow(/limits.pageBytes/);
  });

  it("the README's table names every limit's variable and default", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("### Limits"), readme.indexOf("Why each is shaped"));
    for (const field of Object.keys(defaultLimits) as (keyof typeof defaultLimits)[]) {
      const row = table.split("\n").find((line) => line.includes(`\`${limitEnvName(field)}\``));
      expect(row, field).toBeDefined();
      const value = defaultLimits[field];
      const shown =
        typeof value === "number"
          ? field === "socketsPerDevice"
            ? String(value)
            : `${value / 1024 / 1024} MiB`
          : `${value.points} per ${value.seconds === 60 ? "minute" : `${value.seconds / 60} minutes`}`;
      expect(row, field).toContain(shown);
    }
  });

  it("serve takes the limits, the Redis URL and the trusted proxies from its environment", () => {
    const options = serveOptionsFromEnv({
      BACKCHANNEL_LIMITS_POSTS_PER_CAUCUS: "5/60",
      BACKCHANNEL_REDIS_URL: "redis://127.0.0.1:6379",
      BACKCHANNEL_TRUST_PROXY: "10.0.0.1, 10.0.0.2",
    });
    expect(options).toMatchObject({
      limits: { postsPerCaucus: { points: 5, seconds: 60 } },
      redisUrl: "redis://127.0.0.1:6379",
      trustProxy: ["10.0.0.1", "10.0.0.2"],
    });
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_REDIS_URL: "127.0.0.1:6379" })).toThrow(
      /BACKCHANNEL_REDIS_URL/,
    );
  });
});
