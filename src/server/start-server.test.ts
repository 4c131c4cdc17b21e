import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { limits } from "../protocol/index.js";
import { testNatsUrl } from "./nats/test-helpers.js";
import { localClientUrl, startServer, type RunningServer } from "./start-server.js";
import {
  fetchCall,
  login,
  mediatorWithCaucus,
  newDevice,
  newKey,
  postApplication,
  randomB64,
  redeemed,
  TestSocket,
  type Call,
} from "./test-helpers.js";

describe("startServer", () => {
  let dataDir: string;
  let server: RunningServer;
  let call: Call;
  let sockets: TestSocket[];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backchannel-server-"));
    // Registration open: these tests register mediators freely (closed registration: routes/mediators.test.ts).
    server = await startServer({ port: 0, dataDir, logger: false, registration: "open" });
    call = fetchCall(server.url);
    sockets = [];
  });
  afterEach(async () => {
    for (const s of sockets) s.ws.terminate();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function connect(url = server.url): Promise<TestSocket> {
    const s = new TestSocket(`${url.replace(/^http/, "ws")}/v1/ws`);
    sockets.push(s);
    await s.opened();
    return s;
  }

  it("listens on a random port and pushes an event frame after an append", async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(await call("GET", "/healthz")).toEqual({ status: 200, body: { ok: true } });
    const m = await mediatorWithCaucus(call);

    const socket = await connect();
    socket.send({ type: "ping" });
    expect(await socket.next()).toEqual({ type: "pong" });
    socket.send({ type: "auth", token: m.token });
    expect(await socket.next()).toEqual({ type: "ready", deviceId: m.device.deviceId });

    expect(await postApplication(call, m)).toBe(1);
    expect(await socket.next()).toEqual({ type: "event", caucusId: m.caucusId, seq: 1 });
  });

  it("answers bad frames with error frames and keeps the connection", async () => {
    const m = await mediatorWithCaucus(call);
    const socket = await connect();
    socket.send("{not json");
    expect(await socket.next()).toMatchObject({ type: "error", error: "invalid_json" });
    socket.send({ type: "auth", token: m.token, extra: 1 });
    expect(await socket.next()).toMatchObject({ type: "error", error: "invalid_request" });
    socket.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await socket.next()).toMatchObject({ type: "error", error: "invalid_request" });
    socket.send({ type: "auth", token: m.token });
    expect(await socket.next()).toEqual({ type: "ready", deviceId: m.device.deviceId });
    socket.send({ type: "auth", token: m.token });
    expect(await socket.next()).toMatchObject({ type: "error", error: "invalid_request" });
  });

  it("closes on a bad token and on an oversized frame", async () => {
    const bad = await connect();
    bad.send({ type: "auth", token: "nope" });
    expect(await bad.next()).toMatchObject({ type: "error", error: "unauthenticated" });
    expect((await bad.closed).code).toBe(4401);

    const big = await connect();
    big.send({ type: "auth", token: "x".repeat(limits.frameBytes) });
    expect((await big.closed).code).toBe(1009);
  });

  it("logout closes the sockets opened with the revoked token, and only those", async () => {
    const m = await mediatorWithCaucus(call);
    const other = await login(call, m.device);
    const [revoked, kept] = [await connect(), await connect()];
    revoked.send({ type: "auth", token: m.token });
    kept.send({ type: "auth", token: other });
    for (const s of [revoked, kept]) expect(await s.next()).toMatchObject({ type: "ready" });
    expect(await call("POST", "/v1/auth/logout", {}, m.token)).toEqual({ status: 200, body: { revoked: 1 } });
    expect(await revoked.next()).toMatchObject({ type: "error", error: "unauthenticated" });
    expect((await revoked.closed).code).toBe(4401);
    kept.send({ type: "ping" });
    expect(await kept.next()).toEqual({ type: "pong" });
  });

  it("a device removed by commit loses its socket, after the membership frame that says why", async () => {
    const m = await mediatorWithCaucus(call);
    const party = newDevice();
    await redeemed(call, m, party, newKey());
    const welcome = { deviceId: party.deviceId, welcome: randomB64(40) };
    const commit = (body: object) =>
      call(
        "POST",
        `/v1/caucuses/${m.caucusId}/events`,
        { eventId: randomUUID(), kind: "commit", ...body },
        m.token,
      );
    expect((await commit({ epoch: 0, ciphertext: randomB64(40), welcomes: [welcome] })).status).toBe(201);
    const socket = await connect();
    socket.send({ type: "auth", token: await login(call, party) });
    expect(await socket.next()).toMatchObject({ type: "ready" });
    expect((await commit({ epoch: 1, ciphertext: randomB64(40), removes: [party.deviceId] })).status).toBe(
      201,
    );
    expect(await socket.next()).toEqual({ type: "membership", caucusId: m.caucusId });
    expect(await socket.next()).toMatchObject({ type: "error", error: "device_removed" });
    expect((await socket.closed).code).toBe(4401);
  });

  it("with natsUrl, pushes through NATS; an unreachable NATS stops the start with its URL", async () => {
    await expect(
      startServer({ port: 0, dataDir, logger: false, registration: "open", natsUrl: "nats://127.0.0.1:1" }),
    ).rejects.toThrow("cannot reach NATS at nats://127.0.0.1:1");
    const clustered = await startServer({
      port: 0,
      dataDir,
      logger: false,
      registration: "open",
      natsUrl: testNatsUrl,
    });
    try {
      const m = await mediatorWithCaucus(fetchCall(clustered.url));
      const socket = await connect(clustered.url);
      socket.send({ type: "auth", token: m.token });
      expect(await socket.next()).toMatchObject({ type: "ready" });
      expect(await postApplication(fetchCall(clustered.url), m)).toBe(1);
      expect(await socket.next()).toEqual({ type: "event", caucusId: m.caucusId, seq: 1 });
    } finally {
      await clustered.close();
    }
  });

  it("closes a socket that never authenticates", async () => {
    const impatient = await startServer({
      port: 0,
      dataDir,
      logger: false,
      registration: "open",
      wsAuthTimeoutMs: 50,
    });
    try {
      const silent = await connect(impatient.url);
      expect((await silent.closed).code).toBe(4401);
    } finally {
      await impatient.close();
    }
  });

  it("keeps acknowledged events across a restart on the same data dir", async () => {
    const m = await mediatorWithCaucus(call);
    const sent = { eventId: randomUUID(), kind: "application", epoch: 0, ciphertext: randomB64(32) };
    expect((await call("POST", `/v1/caucuses/${m.caucusId}/events`, sent, m.token)).status).toBe(201);
    await server.close();

    server = await startServer({ port: 0, dataDir, logger: false, registration: "open" });
    call = fetchCall(server.url);
    const listed = await call("GET", `/v1/caucuses/${m.caucusId}/events`, undefined, m.token);
    expect(listed.body.events).toEqual([expect.objectContaining({ seq: 1, ...sent })]);
  });
});

describe("localClientUrl", () => {
  it.each([
    ["http://0.0.0.0:7700", "http://127.0.0.1:7700"],
    ["http://[::]:7700", "http://[::1]:7700"],
    ["http://127.0.0.1:7700", "http://127.0.0.1:7700"],
    ["http://10.1.2.3:80", "http://10.1.2.3"],
  ])("a relay at %s is reached at %s", (url, expected) => {
    expect(localClientUrl(url)).toBe(expected);
  });
});
