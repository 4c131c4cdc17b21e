import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  challengeResponse,
  createCaucusResponse,
  createChannelResponse,
  errorResponse,
  extendChain,
  genesisHash,
  ciphertextOf,
  limits,
  listEventsResponse,
  loginSigningString,
  mediatorLinkSigningString,
  meResponse,
  parse,
  redeemSigningString,
  welcomeResponse,
} from "../protocol/index.js";
import { createApp } from "./app.js";
import type { AppOptions } from "./config.js";
import { openSqliteStorage } from "./storage/sqlite/sqlite-storage.js";
import type { Storage } from "./storage/storage.js";
import {
  injectCall,
  login,
  mediatorWithCaucus,
  newDevice,
  newKey,
  randomB64,
  sha256Hex,
  uuidv7,
  type Call,
  type TestDevice,
} from "./test-helpers.js";

let storage: Storage;
let app: FastifyInstance;
let call: Call;
/** The app's clock: tests move it instead of sleeping. */
let now: number;

async function start(options: AppOptions = {}): Promise<void> {
  storage = await openSqliteStorage({ inMemory: true });
  now = Date.parse("2030-01-01T00:00:00Z");
  // Open registration unless a test says otherwise (closed registration: registration.test.ts).
  app = createApp(storage, { logger: false, now: () => now, registration: "open", ...options });
  call = injectCall(app);
}

beforeEach(() => start());
afterEach(async () => {
  await app.close();
  await storage.close();
});

const notFoundBody = { error: "not_found", message: "not found" };
/** An invite expiry 24 hours ahead of the app's clock. */
const inADay = () => new Date(now + 24 * 60 * 60_000).toISOString();

/** Mediator invites a fresh party device, which redeems. Returns the party and its key package. */
async function redeemParty(mediatorToken: string, caucusId: string) {
  const inviteKey = newKey();
  const inviteId = randomUUID();
  const invite = await call(
    "POST",
    `/v1/caucuses/${caucusId}/invites`,
    { inviteId, invitePublicKey: inviteKey.publicKey, expiresAt: inADay() },
    mediatorToken,
  );
  expect(invite).toEqual({ status: 201, body: { inviteId, caucusId, expiresAt: inADay() } });
  const party = newDevice();
  const keyPackage = randomB64(300);
  const redeemBody = (device: TestDevice, kp = keyPackage, key = inviteKey) => ({
    deviceId: device.deviceId,
    authPublicKey: device.publicKey,
    keyPackage: kp,
    signature: key.sign(redeemSigningString(inviteId, device.deviceId, device.publicKey, sha256Hex(kp))),
  });
  const redeemed = await call("POST", `/v1/invites/${inviteId}/redeem`, redeemBody(party));
  expect(redeemed).toEqual({ status: 201, body: { deviceId: party.deviceId, caucusId } });
  return { party, keyPackage, inviteId, inviteKey, redeemBody };
}

/** A caucus with a joined party (welcomed by commit seq 1, epoch now 1). */
async function caucusWithParty() {
  const m = await mediatorWithCaucus(call);
  const { party } = await redeemParty(m.token, m.caucusId);
  const commit = await call(
    "POST",
    `/v1/caucuses/${m.caucusId}/events`,
    {
      eventId: randomUUID(),
      kind: "commit",
      epoch: 0,
      ciphertext: randomB64(100),
      welcomes: [{ deviceId: party.deviceId, welcome: randomB64(100) }],
    },
    m.token,
  );
  expect(commit.status).toBe(201);
  const partyToken = await login(call, party);
  return { ...m, party, partyToken };
}

const appMessage = (epoch = 1) => ({
  eventId: randomUUID(),
  kind: "application",
  epoch,
  ciphertext: randomB64(64),
});

async function eventCount(caucusId: string): Promise<number> {
  return (await storage.listEvents(caucusId, { afterSeq: 0, limit: 1000, maxBytes: 1e9 })).length;
}

describe("happy path", () => {
  it("registers, logs in, opens a caucus, invites, redeems, welcomes and exchanges events", async () => {
    // Mediator registers and logs in.
    const mediator = newDevice();
    expect(
      await call("POST", "/v1/mediators", { deviceId: mediator.deviceId, authPublicKey: mediator.publicKey }),
    ).toEqual({ status: 201, body: { deviceId: mediator.deviceId, role: "mediator" } });
    const mToken = await login(call, mediator);
    expect((await call("GET", "/v1/me", undefined, mToken)).body).toEqual({
      deviceId: mediator.deviceId,
      role: "mediator",
      memberships: [],
    });

    // Channel and caucus.
    const channel = await call("POST", "/v1/channels", {}, mToken);
    expect(channel.status).toBe(201);
    const { channelId } = parse(createChannelResponse, channel.body);
    const caucus = await call("POST", `/v1/channels/${channelId}/caucuses`, {}, mToken);
    expect(caucus.status).toBe(201);
    const { caucusId } = parse(createCaucusResponse, caucus.body);
    expect((await call("GET", "/v1/channels", undefined, mToken)).body).toEqual({
      channels: [{ channelId, caucusIds: [caucusId] }],
    });
    expect((await call("GET", "/v1/me", undefined, mToken)).body.memberships).toEqual([
      { caucusId, channelId, fromSeq: 1, joined: true },
    ]);

    // Invite, redeem; the party is pending and can read nothing yet.
    const { party, keyPackage, inviteId } = await redeemParty(mToken, caucusId);
    const pToken = await login(call, party);
    const partyMe = parse(meResponse, (await call("GET", "/v1/me", undefined, pToken)).body);
    expect(partyMe).toEqual({
      deviceId: party.deviceId,
      role: "party",
      memberships: [{ caucusId, fromSeq: 0, joined: false }],
    });
    expect(partyMe.memberships[0]).not.toHaveProperty("channelId");
    expect(await call("GET", `/v1/caucuses/${caucusId}/welcome`, undefined, pToken)).toEqual({
      status: 404,
      body: notFoundBody,
    });
    expect((await call("GET", `/v1/caucuses/${caucusId}/events`, undefined, pToken)).status).toBe(404);
    expect((await call("GET", `/v1/caucuses/${caucusId}/pending`, undefined, mToken)).body).toEqual({
      pending: [{ deviceId: party.deviceId, inviteId, keyPackage }],
    });

    // Commit with a Welcome; a retry is a duplicate with the same answer.
    const welcome = randomB64(500);
    const commit = {
      eventId: randomUUID(),
      kind: "commit",
      epoch: 0,
      ciphertext: randomB64(200),
      welcomes: [{ deviceId: party.deviceId, welcome }],
    };
    const appended = await call("POST", `/v1/caucuses/${caucusId}/events`, commit, mToken);
    expect(appended.status).toBe(201);
    // Exactly these: who else may read the caucus (storage's `readers`) never goes on the wire.
    expect(appended.body).toEqual({
      seq: 1,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      duplicate: false,
    });
    const retried = await call("POST", `/v1/caucuses/${caucusId}/events`, commit, mToken);
    expect(retried).toEqual({ status: 200, body: { ...appended.body, duplicate: true } });
    expect((await call("GET", `/v1/caucuses/${caucusId}/pending`, undefined, mToken)).body).toEqual({
      pending: [],
    });

    // The party fetches its Welcome: the anchor it verifies from.
    const w = parse(
      welcomeResponse,
      (await call("GET", `/v1/caucuses/${caucusId}/welcome`, undefined, pToken)).body,
    );
    expect(w).toEqual({ caucusId, welcome, seq: 1, hash: appended.body.hash });

    // Application messages both ways, in the new epoch.
    const fromParty = appMessage(1);
    const fromMediator = appMessage(1);
    expect((await call("POST", `/v1/caucuses/${caucusId}/events`, fromParty, pToken)).body.seq).toBe(2);
    expect((await call("POST", `/v1/caucuses/${caucusId}/events`, fromMediator, mToken)).body.seq).toBe(3);

    // The party reads from its join point; its chain verifies from the Welcome anchor.
    const partyList = parse(
      listEventsResponse,
      (await call("GET", `/v1/caucuses/${caucusId}/events?after=0`, undefined, pToken)).body,
    );
    expect(partyList.events.map((e) => [e.seq, e.eventId, e.senderDeviceId, ciphertextOf(e)])).toEqual([
      [2, fromParty.eventId, party.deviceId, fromParty.ciphertext],
      [3, fromMediator.eventId, mediator.deviceId, fromMediator.ciphertext],
    ]);
    const partyChain = extendChain(
      { seq: w.seq, hash: w.hash },
      partyList.events.map((e) => ({ ...e, caucusId })),
    );
    expect(partyChain).toEqual({ ok: true, head: partyList.head });

    // The mediator reads everything from genesis.
    const mediatorList = parse(
      listEventsResponse,
      (await call("GET", `/v1/caucuses/${caucusId}/events`, undefined, mToken)).body,
    );
    expect(mediatorList.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(mediatorList.events[0]).toMatchObject({ kind: "commit", epoch: 0, ciphertext: commit.ciphertext });
    expect(
      extendChain(
        { seq: 0, hash: genesisHash(caucusId) },
        mediatorList.events.map((e) => ({ ...e, caucusId })),
      ),
    ).toEqual({ ok: true, head: mediatorList.head });

    // Paging.
    const page = await call("GET", `/v1/caucuses/${caucusId}/events?after=1&limit=1`, undefined, mToken);
    const pageBody = parse(listEventsResponse, page.body);
    expect(pageBody.events.map((e) => e.seq)).toEqual([2]);
    expect(pageBody.head.seq).toBe(3);

    expect((await call("GET", "/v1/me", undefined, pToken)).body.memberships).toEqual([
      { caucusId, fromSeq: 2, joined: true },
    ]);
  });

  it("reports the genesis head for an empty caucus", async () => {
    const m = await mediatorWithCaucus(call);
    expect((await call("GET", `/v1/caucuses/${m.caucusId}/events`, undefined, m.token)).body).toEqual({
      events: [],
      head: { seq: 0, hash: genesisHash(m.caucusId) },
    });
  });

  it("answers /healthz and serves an OpenAPI 3.1 document covering every HTTP route", async () => {
    expect(await call("GET", "/healthz")).toEqual({ status: 200, body: { ok: true } });
    const doc = (await call("GET", "/openapi.json")).body;
    expect(doc.openapi).toBe("3.1.0");
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "GET /healthz",
        "GET /readyz",
        "GET /openapi.json",
        "POST /v1/mediators",
        "POST /v1/short-invites",
        "POST /v1/short-invites/{lookupId}/take",
        "POST /v1/auth/challenge",
        "POST /v1/auth/session",
        "POST /v1/auth/removals",
        "GET /v1/me",
        "POST /v1/channels",
        "GET /v1/channels",
        "POST /v1/channels/{channelId}/caucuses",
        "POST /v1/caucuses/{caucusId}/invites",
        "POST /v1/invites/{inviteId}/redeem",
        "GET /v1/caucuses/{caucusId}/pending",
        "POST /v1/caucuses/{caucusId}/events",
        "GET /v1/caucuses/{caucusId}/events",
        "GET /v1/caucuses/{caucusId}/welcome",
        "POST /v1/mediator-links",
        "POST /v1/mediator-links/{linkId}/redeem",
        "PUT /v1/caucuses/{caucusId}/key-package",
        "DELETE /v1/mediator-devices/{deviceId}",
        "POST /v1/auth/logout",
        "DELETE /v1/invites/{inviteId}",
        "PUT /v1/channels/{channelId}/retention",
        "POST /v1/channels/{channelId}/close",
        "PUT /v1/caucuses/{caucusId}/blobs/{blobId}",
        "GET /v1/caucuses/{caucusId}/blobs/{blobId}",
      ].sort(),
    );
    // The push socket is no HTTP operation a generated client could call: it is described in prose.
    expect(doc.info.description).toContain("GET /v1/ws");
    expect(doc.servers).toEqual([{ url: "http://localhost:80", description: expect.any(String) }]);
    const append = doc.paths["/v1/caucuses/{caucusId}/events"].post;
    expect(append.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/AppendEventRequest",
    });
    const schema = doc.components.schemas.AppendEventRequest;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(["eventId", "kind", "epoch", "ciphertext"]));
    // Every $ref resolves.
    for (const ref of JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)) {
      expect(doc.components.schemas).toHaveProperty(ref[1]!);
    }
  });
});

describe("bad input is rejected with a typed code and changes nothing", () => {
  async function post(url: string, payload: string, headers: Record<string, string> = {}) {
    const res = await app.inject({
      method: "POST",
      url,
      payload,
      headers: { "content-type": "application/json", ...headers },
    });
    return { status: res.statusCode, body: parse(errorResponse, JSON.parse(res.body)) };
  }

  it("malformed JSON → 400 invalid_json", async () => {
    const d = newDevice();
    const res = await post("/v1/mediators", `{"deviceId":"${d.deviceId}","authPublicKey":`);
    expect(res).toMatchObject({ status: 400, body: { error: "invalid_json" } });
    expect(await storage.getDevice(d.deviceId)).toBeUndefined();
    expect(await post("/v1/mediators", "")).toMatchObject({ status: 400, body: { error: "invalid_json" } });
    expect(await post("/v1/mediators", '{"__proto__":{"x":1}}')).toMatchObject({
      status: 400,
      body: { error: "invalid_json" },
    });
  });

  it("wrong types and unknown fields → 400 invalid_request naming the paths", async () => {
    const wrong = await call("POST", "/v1/mediators", { deviceId: 5, authPublicKey: true });
    expect(wrong).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(wrong.body.message).toContain("deviceId");
    expect(wrong.body.message).toContain("authPublicKey");

    const d = newDevice();
    const extra = await call("POST", "/v1/mediators", {
      deviceId: d.deviceId,
      authPublicKey: d.publicKey,
      admin: true,
    });
    expect(extra).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(extra.body.message).toContain("admin");
    expect(await storage.getDevice(d.deviceId)).toBeUndefined();

    expect((await call("POST", "/v1/mediators", [1, 2])).body.error).toBe("invalid_request");
  });

  it("a body over limits.bodyBytes → 413 payload_too_large", async () => {
    const m = await mediatorWithCaucus(call);
    const huge = JSON.stringify({ ...appMessage(0), ciphertext: "A".repeat(limits.bodyBytes) });
    const res = await post(`/v1/caucuses/${m.caucusId}/events`, huge, { authorization: `Bearer ${m.token}` });
    expect(res).toMatchObject({ status: 413, body: { error: "payload_too_large" } });
    expect(await eventCount(m.caucusId)).toBe(0);
  });

  it("a wrong content-type → 415 invalid_request", async () => {
    const d = newDevice();
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
      const res = await app.inject({
        method: "POST",
        url: "/v1/mediators",
        payload: JSON.stringify({ deviceId: d.deviceId, authPublicKey: d.publicKey }),
        headers: { "content-type": contentType },
      });
      expect(res.statusCode, contentType).toBe(415);
      expect(res.json()).toMatchObject({ error: "invalid_request" });
    }
    expect(await storage.getDevice(d.deviceId)).toBeUndefined();
  });

  it("an unknown route → 404 not_found, a known one with another method → 405; a bad URL → invalid_request", async () => {
    expect(await call("GET", "/v1/nothing")).toEqual({ status: 404, body: notFoundBody });
    for (const url of ["/v1/caucuses/%E0%A4%A/events", `/v1/caucuses/${"a".repeat(5000)}/events`]) {
      const res = await call("GET", url);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.body).toEqual({ error: "invalid_request", message: "malformed request" });
    }
    expect(await call("POST", "/v1/me", {})).toEqual({
      status: 405,
      body: { error: "not_found", message: "POST is not allowed here (allowed: GET)" },
    });
  });

  it("a duplicate mediator device → 409 device_exists, original key kept", async () => {
    const d = newDevice();
    await call("POST", "/v1/mediators", { deviceId: d.deviceId, authPublicKey: d.publicKey });
    const res = await call("POST", "/v1/mediators", {
      deviceId: d.deviceId,
      authPublicKey: newKey().publicKey,
    });
    expect(res).toMatchObject({ status: 409, body: { error: "device_exists" } });
    expect(await storage.getDevice(d.deviceId)).toMatchObject({ authPublicKey: d.publicKey });
  });

  it("an id that carries a time (UUIDv7, v1) → 400 invalid_request, nothing stored", async () => {
    // Client-chosen ids must be random (v4): a v7 id would date the event, device or invite to the
    // millisecond in the relay's database (invariant 1), and a client must not be able to leak
    // that even by mistake.
    const v1 = () => randomUUID().replace(/^(.{14})4/, "$11");
    const m = await mediatorWithCaucus(call);
    for (const eventId of [uuidv7(), v1()]) {
      const res = await call(
        "POST",
        `/v1/caucuses/${m.caucusId}/events`,
        { ...appMessage(0), eventId },
        m.token,
      );
      expect(res, eventId).toMatchObject({ status: 400, body: { error: "invalid_request" } });
      expect(res.body.message).toContain("eventId");
    }
    expect(await eventCount(m.caucusId)).toBe(0);

    const d = { ...newDevice(), deviceId: uuidv7() };
    const res = await call("POST", "/v1/mediators", { deviceId: d.deviceId, authPublicKey: d.publicKey });
    expect(res).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(await storage.getDevice(d.deviceId)).toBeUndefined();

    const inviteId = uuidv7();
    const invite = await call(
      "POST",
      `/v1/caucuses/${m.caucusId}/invites`,
      { inviteId, invitePublicKey: newKey().publicKey },
      m.token,
    );
    expect(invite).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(await storage.getInvite(inviteId)).toBeUndefined();
  });

  it("an event stored with a v7 id before ids became random is still served, and parses", async () => {
    const m = await mediatorWithCaucus(call);
    const legacy = uuidv7();
    await storage.appendEvent({
      caucusId: m.caucusId,
      senderDeviceId: m.device.deviceId,
      eventId: legacy,
      kind: "application",
      epoch: 0,
      ciphertext: randomB64(64),
      welcomes: [],
      removes: [],
    });
    const list = await call("GET", `/v1/caucuses/${m.caucusId}/events`, undefined, m.token);
    expect(parse(listEventsResponse, list.body).events.map((e) => e.eventId)).toEqual([legacy]);
  });

  it("non-canonical base64url ciphertext and bad query parameters → 400 invalid_request", async () => {
    const m = await mediatorWithCaucus(call);
    for (const ciphertext of ["AB", "A"]) {
      const res = await call(
        "POST",
        `/v1/caucuses/${m.caucusId}/events`,
        { ...appMessage(0), ciphertext },
        m.token,
      );
      expect(res).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    }
    expect(await eventCount(m.caucusId)).toBe(0);
    for (const q of ["limit=0", "limit=100000", "after=-1", "after=x", "foo=1"]) {
      const res = await call("GET", `/v1/caucuses/${m.caucusId}/events?${q}`, undefined, m.token);
      expect(res, q).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    }
  });
});

describe("login", () => {
  async function challenge(deviceId: string): Promise<string> {
    const res = await call("POST", "/v1/auth/challenge", { deviceId });
    expect(res.status).toBe(200);
    const body = parse(challengeResponse, res.body);
    expect(Date.parse(body.expiresAt)).toBe(now + 60_000);
    return body.nonce;
  }
  const signed = (d: TestDevice, nonce: string, signer: TestDevice = d) => ({
    deviceId: d.deviceId,
    nonce,
    signature: signer.sign(loginSigningString(d.deviceId, nonce)),
  });

  async function registered(): Promise<TestDevice> {
    const d = newDevice();
    await call("POST", "/v1/mediators", { deviceId: d.deviceId, authPublicKey: d.publicKey });
    return d;
  }

  it("a bad signature → 401 signature_invalid, and the nonce is spent", async () => {
    const d = await registered();
    const nonce = await challenge(d.deviceId);
    const bad = await call("POST", "/v1/auth/session", signed(d, nonce, newDevice()));
    expect(bad).toEqual({
      status: 401,
      body: { error: "signature_invalid", message: "signature does not verify" },
    });
    const retry = await call("POST", "/v1/auth/session", signed(d, nonce));
    expect(retry).toMatchObject({ status: 401, body: { error: "challenge_invalid" } });
  });

  it("a replayed nonce → 401 challenge_invalid", async () => {
    const d = await registered();
    const nonce = await challenge(d.deviceId);
    const body = signed(d, nonce);
    expect((await call("POST", "/v1/auth/session", body)).status).toBe(200);
    expect(await call("POST", "/v1/auth/session", body)).toMatchObject({
      status: 401,
      body: { error: "challenge_invalid" },
    });
  });

  it("a nonce issued to another device, or expired, → 401 challenge_invalid", async () => {
    const a = await registered();
    const b = await registered();
    const nonce = await challenge(a.deviceId);
    expect((await call("POST", "/v1/auth/session", signed(b, nonce))).body.error).toBe("challenge_invalid");
    const late = await challenge(b.deviceId);
    now += 60_000;
    expect((await call("POST", "/v1/auth/session", signed(b, late))).body.error).toBe("challenge_invalid");
  });

  it("an unknown device gets a nonce and then the same answer as a bad signature", async () => {
    const ghost = newDevice();
    const nonce = await challenge(ghost.deviceId);
    expect(await call("POST", "/v1/auth/session", signed(ghost, nonce))).toEqual({
      status: 401,
      body: { error: "signature_invalid", message: "signature does not verify" },
    });
  });

  it("missing, unknown and expired tokens → 401 unauthenticated / token_expired", async () => {
    await app.close();
    await storage.close();
    await start({ tokenTtlMs: 1_000 });
    const d = await registered();
    const token = await login(call, d);
    expect((await call("GET", "/v1/me", undefined, token)).status).toBe(200);
    expect(await call("GET", "/v1/me")).toMatchObject({ status: 401, body: { error: "unauthenticated" } });
    expect(await call("GET", "/v1/me", undefined, "x".repeat(43))).toMatchObject({
      status: 401,
      body: { error: "unauthenticated" },
    });
    now += 1_000;
    expect(await call("GET", "/v1/me", undefined, token)).toMatchObject({
      status: 401,
      body: { error: "token_expired" },
    });
    expect(await call("POST", "/v1/channels", {}, token)).toMatchObject({ status: 401 });
    expect(await storage.listChannels(d.deviceId)).toEqual([]);
  });
});

describe("invites", () => {
  it("a used invite → 409 invite_used; the second device is not registered", async () => {
    const m = await mediatorWithCaucus(call);
    const { inviteId, redeemBody } = await redeemParty(m.token, m.caucusId);
    const second = newDevice();
    expect(await call("POST", `/v1/invites/${inviteId}/redeem`, redeemBody(second))).toMatchObject({
      status: 409,
      body: { error: "invite_used" },
    });
    expect(await storage.getDevice(second.deviceId)).toBeUndefined();
    expect(
      (await call("GET", `/v1/caucuses/${m.caucusId}/pending`, undefined, m.token)).body.pending,
    ).toHaveLength(1);
  });

  it("a bad signature → 400 signature_invalid; the invite stays usable", async () => {
    const m = await mediatorWithCaucus(call);
    const inviteKey = newKey();
    const inviteId = randomUUID();
    await call(
      "POST",
      `/v1/caucuses/${m.caucusId}/invites`,
      { inviteId, invitePublicKey: inviteKey.publicKey, expiresAt: inADay() },
      m.token,
    );
    const party = newDevice();
    const keyPackage = randomB64(100);
    const body = (signer: { sign(s: string): string }, kp = keyPackage) => ({
      deviceId: party.deviceId,
      authPublicKey: party.publicKey,
      keyPackage,
      signature: signer.sign(redeemSigningString(inviteId, party.deviceId, party.publicKey, sha256Hex(kp))),
    });
    // Wrong key, and the right key over a different key package.
    for (const bad of [body(newKey()), body(inviteKey, randomB64(100))]) {
      expect(await call("POST", `/v1/invites/${inviteId}/redeem`, bad)).toMatchObject({
        status: 400,
        body: { error: "signature_invalid" },
      });
    }
    expect(await storage.getDevice(party.deviceId)).toBeUndefined();
    expect(await storage.getInvite(inviteId)).toMatchObject({ used: false });
    expect((await call("POST", `/v1/invites/${inviteId}/redeem`, body(inviteKey))).status).toBe(201);
  });

  it("an unknown invite → 404 invite_invalid; a taken device id → 409 device_exists", async () => {
    const m = await mediatorWithCaucus(call);
    const d = newDevice();
    const res = await call("POST", `/v1/invites/${randomUUID()}/redeem`, {
      deviceId: d.deviceId,
      authPublicKey: d.publicKey,
      keyPackage: randomB64(10),
      signature: d.sign("x"),
    });
    expect(res).toMatchObject({ status: 404, body: { error: "invite_invalid" } });

    const inviteKey = newKey();
    const inviteId = randomUUID();
    await call(
      "POST",
      `/v1/caucuses/${m.caucusId}/invites`,
      { inviteId, invitePublicKey: inviteKey.publicKey, expiresAt: inADay() },
      m.token,
    );
    const kp = randomB64(10);
    const taken = await call("POST", `/v1/invites/${inviteId}/redeem`, {
      deviceId: m.device.deviceId,
      authPublicKey: d.publicKey,
      keyPackage: kp,
      signature: inviteKey.sign(redeemSigningString(inviteId, m.device.deviceId, d.publicKey, sha256Hex(kp))),
    });
    expect(taken).toMatchObject({ status: 409, body: { error: "device_exists" } });
    expect(await storage.getInvite(inviteId)).toMatchObject({ used: false });
    expect(await storage.getDevice(m.device.deviceId)).toMatchObject({ role: "mediator" });
  });
});

describe("invite expiry and revocation", () => {
  async function invite(token: string, caucusId: string, expiresAt = inADay()) {
    const inviteKey = newKey();
    const inviteId = randomUUID();
    const made = await call(
      "POST",
      `/v1/caucuses/${caucusId}/invites`,
      { inviteId, invitePublicKey: inviteKey.publicKey, expiresAt },
      token,
    );
    const redeem = (device = newDevice()) => {
      const kp = randomB64(64);
      return call("POST", `/v1/invites/${inviteId}/redeem`, {
        deviceId: device.deviceId,
        authPublicKey: device.publicKey,
        keyPackage: kp,
        signature: inviteKey.sign(
          redeemSigningString(inviteId, device.deviceId, device.publicKey, sha256Hex(kp)),
        ),
      });
    };
    return { inviteId, made, redeem };
  }

  it("an expiry in the past or more than 30 days ahead is refused", async () => {
    const m = await mediatorWithCaucus(call);
    for (const at of [now - 1, now, now + 31 * 24 * 60 * 60_000]) {
      const { made } = await invite(m.token, m.caucusId, new Date(at).toISOString());
      expect(made).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    }
  });

  it("an expired invite → 410 invite_expired; nothing is registered", async () => {
    const m = await mediatorWithCaucus(call);
    const { inviteId, redeem } = await invite(m.token, m.caucusId);
    now += 24 * 60 * 60_000;
    const d = newDevice();
    expect(await redeem(d)).toMatchObject({ status: 410, body: { error: "invite_expired" } });
    expect(await storage.getDevice(d.deviceId)).toBeUndefined();
    expect(await storage.getInvite(inviteId)).toMatchObject({ used: false });
  });

  it("a revoked invite → 410 invite_revoked; a device waiting on it is dropped and cannot log in", async () => {
    const m = await mediatorWithCaucus(call);
    const unused = await invite(m.token, m.caucusId);
    expect(await call("DELETE", `/v1/invites/${unused.inviteId}`, undefined, m.token)).toEqual({
      status: 200,
      body: { inviteId: unused.inviteId, caucusId: m.caucusId },
    });
    expect(await unused.redeem()).toMatchObject({ status: 410, body: { error: "invite_revoked" } });

    const redeemed = await invite(m.token, m.caucusId);
    const d = newDevice();
    expect((await redeemed.redeem(d)).status).toBe(201);
    const token = await login(call, d);
    expect(await call("DELETE", `/v1/invites/${redeemed.inviteId}`, undefined, m.token)).toEqual({
      status: 200,
      body: { inviteId: redeemed.inviteId, caucusId: m.caucusId, droppedDeviceId: d.deviceId },
    });
    expect((await call("GET", `/v1/caucuses/${m.caucusId}/pending`, undefined, m.token)).body).toEqual({
      pending: [],
    });
    expect(await call("GET", "/v1/me", undefined, token)).toMatchObject({ status: 401 });
    await expect(login(call, d)).rejects.toThrow(/device_removed/);
    // Revoking again is fine; another mediator's device learns nothing.
    expect((await call("DELETE", `/v1/invites/${redeemed.inviteId}`, undefined, m.token)).status).toBe(200);
    const other = await mediatorWithCaucus(call);
    for (const id of [redeemed.inviteId, randomUUID()])
      expect(await call("DELETE", `/v1/invites/${id}`, undefined, other.token)).toEqual({
        status: 404,
        body: notFoundBody,
      });
  });
});

describe("removed devices and sessions", () => {
  it("a party device removed by commit cannot log in, and its token is refused", async () => {
    const c = await caucusWithParty();
    const removal = await call(
      "POST",
      `/v1/caucuses/${c.caucusId}/events`,
      { ...appMessage(1), kind: "commit", removes: [c.party.deviceId] },
      c.token,
    );
    expect(removal.status).toBe(201);
    expect(await call("GET", "/v1/me", undefined, c.partyToken)).toMatchObject({
      status: 401,
      body: { error: "unauthenticated" },
    });
    await expect(login(call, c.party)).rejects.toThrow(/device_removed/);
    expect(await storage.getDevice(c.party.deviceId)).toMatchObject({ removed: true });
  });

  it("logout revokes the token in use, or with all: true every token of the device", async () => {
    const m = await mediatorWithCaucus(call);
    const second = await login(call, m.device);
    const third = await login(call, m.device);
    expect(await call("POST", "/v1/auth/logout", {}, m.token)).toEqual({ status: 200, body: { revoked: 1 } });
    expect(await call("GET", "/v1/me", undefined, m.token)).toMatchObject({ status: 401 });
    expect((await call("GET", "/v1/me", undefined, second)).status).toBe(200);
    expect(await call("POST", "/v1/auth/logout", { all: true }, second)).toEqual({
      status: 200,
      body: { revoked: 2 },
    });
    for (const t of [second, third]) expect((await call("GET", "/v1/me", undefined, t)).status).toBe(401);
    // Not removed: it may log in again.
    expect((await call("GET", "/v1/me", undefined, await login(call, m.device))).status).toBe(200);
    expect(await call("POST", "/v1/auth/logout", {})).toMatchObject({ status: 401 });
  });
});

describe("the mediator's devices (staff)", () => {
  /** A link made by `token`'s device; `redeem` signs with its key unless told otherwise. */
  async function makeLink(token: string) {
    const linkKey = newKey();
    const linkId = randomUUID();
    const made = await call(
      "POST",
      "/v1/mediator-links",
      { linkId, linkPublicKey: linkKey.publicKey },
      token,
    );
    expect(made).toEqual({ status: 201, body: { linkId } });
    const body = (device: TestDevice, key = linkKey, signedId = device.deviceId) => ({
      deviceId: device.deviceId,
      authPublicKey: device.publicKey,
      signature: key.sign(mediatorLinkSigningString(linkId, signedId, device.publicKey)),
    });
    const redeem = (device: TestDevice, key = linkKey, signedId = device.deviceId) =>
      call("POST", `/v1/mediator-links/${linkId}/redeem`, body(device, key, signedId));
    return { linkId, redeem };
  }

  it("links a device, which hands in a key package, is listed as pending and welcomed by commit", async () => {
    const m = await mediatorWithCaucus(call);
    const { redeem } = await makeLink(m.token);
    const staff = newDevice();
    expect(await redeem(staff)).toEqual({
      status: 201,
      body: { deviceId: staff.deviceId, caucusIds: [m.caucusId] },
    });
    const sToken = await login(call, staff);
    expect((await call("GET", "/v1/me", undefined, sToken)).body).toEqual({
      deviceId: staff.deviceId,
      role: "mediator",
      memberships: [{ caucusId: m.caucusId, channelId: m.channelId, fromSeq: 0, joined: false }],
    });
    // Pending: it reads nothing yet, and the joined device sees it only once it handed in keys.
    expect(await call("GET", `/v1/caucuses/${m.caucusId}/events`, undefined, sToken)).toEqual({
      status: 404,
      body: notFoundBody,
    });
    expect((await call("GET", `/v1/caucuses/${m.caucusId}/pending`, undefined, m.token)).body).toEqual({
      pending: [],
    });
    const keyPackage = randomB64(300);
    const url = `/v1/caucuses/${m.caucusId}/key-package`;
    expect(await call("PUT", url, { keyPackage }, sToken)).toEqual({
      status: 200,
      body: { caucusId: m.caucusId, deviceId: staff.deviceId },
    });
    expect((await call("GET", `/v1/caucuses/${m.caucusId}/pending`, undefined, m.token)).body).toEqual({
      pending: [{ deviceId: staff.deviceId, role: "mediator", keyPackage }],
    });
    const welcome = randomB64(200);
    const commit = await call(
      "POST",
      `/v1/caucuses/${m.caucusId}/events`,
      {
        eventId: randomUUID(),
        kind: "commit",
        epoch: 0,
        ciphertext: randomB64(100),
        welcomes: [{ deviceId: staff.deviceId, welcome }],
      },
      m.token,
    );
    expect(commit.status).toBe(201);
    expect(
      parse(
        welcomeResponse,
        (await call("GET", `/v1/caucuses/${m.caucusId}/welcome`, undefined, sToken)).body,
      ),
    ).toEqual({ caucusId: m.caucusId, welcome, seq: 1, hash: commit.body.hash });
    // Joined: it may commit (e.g. remove the first device), and channels it opens include both.
    expect((await call("GET", "/v1/channels", undefined, sToken)).body).toEqual({
      channels: [{ channelId: m.channelId, caucusIds: [m.caucusId] }],
    });
    const { channelId } = parse(createChannelResponse, (await call("POST", "/v1/channels", {}, sToken)).body);
    expect((await storage.getChannel(channelId))!.mediatorDeviceIds).toEqual([
      staff.deviceId,
      m.device.deviceId,
    ]);
    const { caucusId } = parse(
      createCaucusResponse,
      (await call("POST", `/v1/channels/${channelId}/caucuses`, {}, sToken)).body,
    );
    expect((await call("GET", "/v1/me", undefined, m.token)).body.memberships).toContainEqual({
      caucusId,
      channelId,
      fromSeq: 0,
      joined: false,
    });
    // Already joined: no key package to hand in.
    expect(await call("PUT", url, { keyPackage }, sToken)).toEqual({ status: 404, body: notFoundBody });
  });

  it("a link is one-time; a bad signature, unknown link or taken device id changes nothing", async () => {
    const m = await mediatorWithCaucus(call);
    const { linkId, redeem } = await makeLink(m.token);
    const staff = newDevice();
    // Wrong key, and the right key over another device id.
    for (const bad of [await redeem(staff, newKey()), await redeem(staff, undefined, randomUUID())])
      expect(bad).toEqual({
        status: 400,
        body: { error: "signature_invalid", message: "signature by the link key does not verify" },
      });
    expect(await storage.getDevice(staff.deviceId)).toBeUndefined();
    const taken = { ...newDevice(), deviceId: m.device.deviceId };
    expect(await redeem(taken)).toMatchObject({ status: 409, body: { error: "device_exists" } });
    expect(await storage.getMediatorLink(linkId)).toMatchObject({ used: false });

    expect((await redeem(staff)).status).toBe(201);
    const second = newDevice();
    expect(await redeem(second)).toMatchObject({ status: 409, body: { error: "invite_used" } });
    expect(await storage.getDevice(second.deviceId)).toBeUndefined();
    expect(await storage.listMediatorDevices(m.device.deviceId)).toEqual([m.device.deviceId, staff.deviceId]);
    const unknown = await call("POST", `/v1/mediator-links/${randomUUID()}/redeem`, {
      deviceId: second.deviceId,
      authPublicKey: second.publicKey,
      signature: second.sign("x"),
    });
    expect(unknown).toMatchObject({ status: 404, body: { error: "invite_invalid" } });
  });

  it("bad input on the new routes → 400 invalid_request, nothing changed", async () => {
    const m = await mediatorWithCaucus(call);
    const key = newKey();
    for (const body of [
      {},
      { linkId: "not-a-uuid", linkPublicKey: key.publicKey },
      { linkId: randomUUID(), linkPublicKey: "short" },
      { linkId: randomUUID(), linkPublicKey: key.publicKey, admin: true },
    ]) {
      const res = await call("POST", "/v1/mediator-links", body, m.token);
      expect(res, JSON.stringify(body)).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    }
    const { linkId, redeem } = await makeLink(m.token);
    const d = newDevice();
    const good = { deviceId: d.deviceId, authPublicKey: d.publicKey, signature: d.sign("x") };
    for (const [url, body] of [
      ["/v1/mediator-links/nope/redeem", good],
      [`/v1/mediator-links/${linkId}/redeem`, { ...good, keyPackage: "AAAA" }],
      [`/v1/mediator-links/${linkId}/redeem`, { ...good, deviceId: 7 }],
      [`/v1/mediator-links/${linkId}/redeem`, { ...good, signature: "A".repeat(85) }],
      [`/v1/mediator-links/${linkId}/redeem`, { deviceId: d.deviceId, signature: good.signature }],
    ] as const) {
      const res = await call("POST", url, body);
      expect(res, JSON.stringify(body)).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    }
    expect(await storage.getDevice(d.deviceId)).toBeUndefined();
    expect(await storage.getMediatorLink(linkId)).toMatchObject({ used: false });

    const staff = newDevice();
    expect((await redeem(staff)).status).toBe(201);
    const sToken = await login(call, staff);
    for (const [url, body] of [
      [`/v1/caucuses/${m.caucusId}/key-package`, { keyPackage: "AB" }], // not canonical
      [`/v1/caucuses/${m.caucusId}/key-package`, { keyPackage: "" }],
      [`/v1/caucuses/${m.caucusId}/key-package`, { keyPackage: "A".repeat(30_000) }], // over the limit
      [`/v1/caucuses/${m.caucusId}/key-package`, { keyPackage: "AAAA", extra: 1 }],
      [`/v1/caucuses/${m.caucusId}/key-package`, {}],
      ["/v1/caucuses/nope/key-package", { keyPackage: "AAAA" }],
    ] as const) {
      const res = await call("PUT", url, body, sToken);
      expect(res, JSON.stringify(body)).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    }
    expect((await storage.getMembership(m.caucusId, staff.deviceId))!.keyPackage).toBeUndefined();
    expect(await call("DELETE", "/v1/mediator-devices/nope", undefined, m.token)).toMatchObject({
      status: 400,
      body: { error: "invalid_request" },
    });
    // No device removes itself (same answer as for a device that is not ours).
    expect(await call("DELETE", `/v1/mediator-devices/${m.device.deviceId}`, undefined, m.token)).toEqual({
      status: 404,
      body: notFoundBody,
    });
    expect(await storage.listMediatorDevices(m.device.deviceId)).toEqual([m.device.deviceId, staff.deviceId]);
    // Without a token: unauthenticated, before anything else.
    for (const [method, url] of [
      ["POST", "/v1/mediator-links"],
      ["PUT", `/v1/caucuses/${m.caucusId}/key-package`],
      ["DELETE", `/v1/mediator-devices/${staff.deviceId}`],
    ] as const) {
      const res = await call(method, url, method === "DELETE" ? undefined : {});
      expect(res, url).toMatchObject({ status: 401, body: { error: "unauthenticated" } });
    }
  });

  it("removal: still_member while a caucus holds it; then it leaves every channel", async () => {
    const m = await mediatorWithCaucus(call);
    const { redeem } = await makeLink(m.token);
    const staff = newDevice();
    await redeem(staff);
    const sToken = await login(call, staff);
    await call("PUT", `/v1/caucuses/${m.caucusId}/key-package`, { keyPackage: randomB64(50) }, sToken);
    const events = `/v1/caucuses/${m.caucusId}/events`;
    const commit = (epoch: number, extra: object) => ({
      eventId: randomUUID(),
      kind: "commit",
      epoch,
      ciphertext: randomB64(50),
      ...extra,
    });
    await call(
      "POST",
      events,
      commit(0, { welcomes: [{ deviceId: staff.deviceId, welcome: randomB64(50) }] }),
      m.token,
    );

    const del = `/v1/mediator-devices/${staff.deviceId}`;
    expect(await call("DELETE", del, undefined, m.token)).toMatchObject({
      status: 409,
      body: { error: "still_member" },
    });
    // Neither device may remove itself by commit; the other one can.
    expect(await call("POST", events, commit(1, { removes: [staff.deviceId] }), sToken)).toMatchObject({
      status: 400,
      body: { error: "invalid_request" },
    });
    expect((await call("POST", events, commit(1, { removes: [staff.deviceId] }), m.token)).status).toBe(201);
    expect(await call("DELETE", del, undefined, m.token)).toEqual({
      status: 200,
      body: { deviceId: staff.deviceId, droppedCaucusIds: [] },
    });
    expect(await call("DELETE", del, undefined, m.token)).toEqual({ status: 404, body: notFoundBody });
    // A removed device is done for: its token stops working and it cannot log in again.
    for (const [method, url] of [
      ["GET", "/v1/channels"],
      ["GET", "/v1/me"],
      ["GET", events],
    ] as const)
      expect(await call(method, url, undefined, sToken)).toMatchObject({
        status: 401,
        body: { error: "unauthenticated" },
      });
    await expect(login(call, staff)).rejects.toThrow(/device_removed/);
    expect(await storage.listChannels(staff.deviceId)).toEqual([]);
    // Channels opened afterwards do not include it.
    const { channelId } = parse(
      createChannelResponse,
      (await call("POST", "/v1/channels", {}, m.token)).body,
    );
    expect((await storage.getChannel(channelId))!.mediatorDeviceIds).toEqual([m.device.deviceId]);
  });
});

describe("authorisation", () => {
  it("a party device calling mediator routes → 403 forbidden, nothing created", async () => {
    const c = await caucusWithParty();
    const t = c.partyToken;
    const attempts = [
      await call("POST", "/v1/channels", {}, t),
      await call("GET", "/v1/channels", undefined, t),
      await call("POST", `/v1/channels/${c.channelId}/caucuses`, {}, t),
      await call(
        "POST",
        `/v1/caucuses/${c.caucusId}/invites`,
        { inviteId: randomUUID(), invitePublicKey: newKey().publicKey, expiresAt: inADay() },
        t,
      ),
      await call("GET", `/v1/caucuses/${c.caucusId}/pending`, undefined, t),
      await call(
        "POST",
        "/v1/mediator-links",
        { linkId: randomUUID(), linkPublicKey: newKey().publicKey },
        t,
      ),
      await call("PUT", `/v1/caucuses/${c.caucusId}/key-package`, { keyPackage: randomB64(40) }, t),
      await call("DELETE", `/v1/mediator-devices/${c.device.deviceId}`, undefined, t),
      await call("PUT", `/v1/caucuses/${randomUUID()}/key-package`, { keyPackage: randomB64(40) }, t),
      await call("DELETE", `/v1/mediator-devices/${randomUUID()}`, undefined, t),
      // Same answer whether or not the ids exist: the role check comes first.
      await call("POST", `/v1/channels/${randomUUID()}/caucuses`, {}, t),
      await call("GET", `/v1/caucuses/${randomUUID()}/pending`, undefined, t),
    ];
    for (const a of attempts)
      expect(a).toEqual({ status: 403, body: { error: "forbidden", message: "mediator devices only" } });
    expect(await storage.listChannels(c.party.deviceId)).toEqual([]);
    expect((await storage.getChannel(c.channelId))!.caucusIds).toEqual([c.caucusId]);
    expect(await storage.listMediatorDevices(c.device.deviceId)).toEqual([c.device.deviceId]);
  });

  it("a party device may not commit → 403 forbidden", async () => {
    const c = await caucusWithParty();
    const res = await call(
      "POST",
      `/v1/caucuses/${c.caucusId}/events`,
      { ...appMessage(1), kind: "commit" },
      c.partyToken,
    );
    expect(res).toMatchObject({ status: 403, body: { error: "forbidden" } });
    expect(await eventCount(c.caucusId)).toBe(1);
  });

  it("another caucus reads exactly like a caucus that does not exist", async () => {
    const a = await caucusWithParty();
    const b = await caucusWithParty();
    const ghost = randomUUID();
    for (const token of [a.token, a.partyToken]) {
      for (const path of ["events", "welcome"]) {
        const theirs = await call("GET", `/v1/caucuses/${b.caucusId}/${path}`, undefined, token);
        const none = await call("GET", `/v1/caucuses/${ghost}/${path}`, undefined, token);
        expect(theirs).toEqual({ status: 404, body: notFoundBody });
        expect(none).toEqual(theirs);
      }
      const write = await call("POST", `/v1/caucuses/${b.caucusId}/events`, appMessage(1), token);
      expect(write).toEqual({ status: 404, body: notFoundBody });
    }
    for (const [path, body] of [
      ["pending", undefined],
      ["invites", { inviteId: randomUUID(), invitePublicKey: newKey().publicKey, expiresAt: inADay() }],
    ] as const) {
      const method = body ? "POST" : "GET";
      const theirs = await call(method, `/v1/caucuses/${b.caucusId}/${path}`, body, a.token);
      expect(theirs).toEqual({ status: 404, body: notFoundBody });
      expect(await call(method, `/v1/caucuses/${ghost}/${path}`, body, a.token)).toEqual(theirs);
    }
    expect(await call("POST", `/v1/channels/${b.channelId}/caucuses`, {}, a.token)).toEqual({
      status: 404,
      body: notFoundBody,
    });
    expect(await call("POST", `/v1/channels/${ghost}/caucuses`, {}, a.token)).toEqual({
      status: 404,
      body: notFoundBody,
    });
    expect(await eventCount(b.caucusId)).toBe(1);
    expect((await storage.getChannel(b.channelId))!.caucusIds).toEqual([b.caucusId]);
  });

  it("a removed party loses all access", async () => {
    const c = await caucusWithParty();
    const remove = {
      eventId: randomUUID(),
      kind: "commit",
      epoch: 1,
      ciphertext: randomB64(50),
      removes: [c.party.deviceId],
    };
    expect((await call("POST", `/v1/caucuses/${c.caucusId}/events`, remove, c.token)).status).toBe(201);
    // Its sessions went with it: every request is refused before any lookup, and so is a login.
    for (const [method, url, body] of [
      ["GET", `/v1/caucuses/${c.caucusId}/events`, undefined],
      ["GET", `/v1/caucuses/${c.caucusId}/welcome`, undefined],
      ["POST", `/v1/caucuses/${c.caucusId}/events`, appMessage(2)],
      ["GET", "/v1/me", undefined],
    ] as const)
      expect(await call(method, url, body, c.partyToken)).toMatchObject({
        status: 401,
        body: { error: "unauthenticated" },
      });
    expect(await storage.getMembership(c.caucusId, c.party.deviceId)).toMatchObject({ removed: true });
    await expect(login(call, c.party)).rejects.toThrow(/device_removed/);
  });
});

describe("event rules over HTTP", () => {
  it("stale epoch, losing commit, reused event id, misplaced welcomes → 409/400, nothing appended", async () => {
    const c = await caucusWithParty();
    const url = `/v1/caucuses/${c.caucusId}/events`;
    expect((await call("POST", url, appMessage(0), c.partyToken)).body.error).toBe("stale_epoch");
    expect((await call("POST", url, { ...appMessage(0), kind: "commit" }, c.token)).body.error).toBe(
      "epoch_conflict",
    );
    const mine = appMessage(1);
    await call("POST", url, mine, c.token);
    expect(await call("POST", url, mine, c.partyToken)).toMatchObject({
      status: 409,
      body: { error: "event_id_conflict" },
    });
    const withWelcome = {
      ...appMessage(1),
      welcomes: [{ deviceId: c.party.deviceId, welcome: randomB64(10) }],
    };
    expect(await call("POST", url, withWelcome, c.token)).toMatchObject({
      status: 400,
      body: { error: "invalid_request" },
    });
    const welcomeJoined = { ...withWelcome, kind: "commit" };
    expect(await call("POST", url, welcomeJoined, c.token)).toMatchObject({
      status: 400,
      body: { error: "invalid_request" },
    });
    expect(await eventCount(c.caucusId)).toBe(2);
    expect((await storage.getCaucus(c.caucusId))!.epoch).toBe(1);
  });
});

describe("failures inside", () => {
  it("an unexpected error → 500 internal with no internals", async () => {
    const broken = new Proxy(storage, {
      get(target, prop, receiver) {
        if (prop === "createDevice")
          return () => Promise.reject(new Error("sqlite exploded at /secret/path"));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const brokenApp = createApp(broken, { logger: false, registration: "open" });
    const d = newDevice();
    const res = await injectCall(brokenApp)("POST", "/v1/mediators", {
      deviceId: d.deviceId,
      authPublicKey: d.publicKey,
    });
    expect(res).toEqual({ status: 500, body: { error: "internal", message: "internal error" } });
    await brokenApp.close();
  });
});

describe("logging", () => {
  it("writes one structured line per request with the route pattern, and no secrets or bytes", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        done();
      },
    });
    await app.close();
    await storage.close();
    await start({ logger: { destination } });

    const c = await caucusWithParty();
    const sent = appMessage(1);
    await call("POST", `/v1/caucuses/${c.caucusId}/events`, sent, c.partyToken);
    await call("GET", `/v1/caucuses/${c.caucusId}/events`, undefined, c.token);
    await call("POST", "/v1/mediators", "{bad");

    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = records.filter((r) => r.msg === "request");
    expect(requests.length).toBeGreaterThanOrEqual(8);
    expect(requests).toContainEqual(
      expect.objectContaining({
        method: "POST",
        route: "/v1/caucuses/:caucusId/events",
        status: 201,
        deviceId: c.party.deviceId,
        ms: expect.any(Number),
      }),
    );
    const all = lines.join("\n");
    for (const secret of [c.token, c.partyToken, sent.ciphertext, c.caucusId])
      expect(all).not.toContain(secret);
    expect(all.toLowerCase()).not.toContain("authorization");
  });
});
