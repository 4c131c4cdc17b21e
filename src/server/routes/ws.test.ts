import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createApp } from "../app.js";
import { listeningAt } from "../start-server.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage } from "../storage/storage.js";
import { TestSocket, fetchCall, mediatorWithCaucus } from "../test-helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

describe("push socket memory", () => {
  let dataDir: string;
  let storage: Storage;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backchannel-ws-"));
    storage = await openSqliteStorage({ dataDir });
  });
  afterEach(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // A relay holds tens of thousands of idle push sockets (bench/sockets.ts): the upgrade's request,
  // reply, headers and request logger, kept for each, were most of a socket's memory.
  it("keeps nothing of the HTTP upgrade once the socket is authenticated", async () => {
    // Registration open: these tests register mediators freely (closed registration: mediators.test.ts).
    const app = createApp(storage, { logger: false, registration: "open" });
    let upgrade: { raw: WeakRef<object>; request: WeakRef<object> } | undefined;
    app.addHook("onRequest", (request, _reply, done) => {
      if (request.url === "/v1/ws")
        upgrade = { raw: new WeakRef(request.raw), request: new WeakRef(request) };
      done();
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { url } = listeningAt(app);
      const m = await mediatorWithCaucus(fetchCall(url));
      const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/ws`);
      const frames: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => ws.send(JSON.stringify({ type: "auth", token: m.token })));
        ws.on("message", (data: Buffer) => {
          frames.push(JSON.parse(data.toString("utf8")));
          resolve();
        });
        ws.once("error", reject);
      });
      expect(frames).toEqual([{ type: "ready", deviceId: m.device.deviceId }]);

      await tick(); // a WeakRef's target lives at least until the job that made it ends
      gc();
      expect(upgrade?.raw.deref()).toBeUndefined();
      expect(upgrade?.request.deref()).toBeUndefined();

      // …and the socket still works.
      ws.send(JSON.stringify({ type: "ping" }));
      await new Promise((resolve) => ws.once("message", resolve));
      ws.terminate();
    } finally {
      await app.close();
    }
  });
});

describe("push socket authentication", () => {
  let dataDir: string;
  let storage: Storage;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backchannel-ws-auth-"));
    storage = await openSqliteStorage({ dataDir });
  });
  afterEach(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // The interleaving a second node makes possible: the socket's session is read, then a logout
  // (here: on this node, before the socket has subscribed) ends it. The disconnect finds no
  // subscriber; the socket must still not be left open on a dead session.
  it("closes a socket whose session was logged out while it authenticated", async () => {
    let interleave: (() => Promise<void>) | undefined;
    const racing: Storage = Object.create(storage) as Storage;
    racing.getSessionDevice = async (tokenHash) => {
      const session = await storage.getSessionDevice(tokenHash);
      const then = interleave;
      interleave = undefined;
      await then?.();
      return session;
    };
    const app = createApp(racing, { logger: false, registration: "open" });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { url } = listeningAt(app);
      const call = fetchCall(url);
      const m = await mediatorWithCaucus(call);
      interleave = async () => {
        const res = await call("POST", "/v1/auth/logout", {}, m.token);
        expect(res.status).toBe(200);
      };
      const socket = new TestSocket(`${url.replace(/^http/, "ws")}/v1/ws`);
      await socket.opened();
      socket.send({ type: "auth", token: m.token });
      const frame = await socket.next();
      expect(frame).toMatchObject({ type: "error" });
      expect((await socket.closed).code).toBe(4401);
    } finally {
      await app.close();
    }
  });
});
