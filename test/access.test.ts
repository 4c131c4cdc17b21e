/**
 * Issue 7, items 7 and 8: a handler's device is admitted only after the mediator compared
 * verification codes (unless the invite opted out); invites expire and can be revoked, and the
 * mediator's device enforces both even when the relay lies; a removed device cannot log in and
 * loses its sockets; logout revokes a token and closes its sockets.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import { MemoryStateStore, Party, readDeviceState } from "../src/sdk/index.js";
import { Session } from "../src/sdk/session.js";
import { decodeInviteCode, encodeInviteCode } from "../src/sdk/invite-code.js";
import { nodePlatform } from "../src/sdk/node.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";
import { ServerDatabase } from "./helpers/server-database.js";
import { deviceState } from "../src/sdk/device-state.js";

let net: TestNetwork;
let db: ServerDatabase;
beforeAll(async () => {
  net = await startNetwork({ parties: ["A", "B"] });
  db = new ServerDatabase(join(net.dataDir, sqliteFileName));
});
afterAll(() => net?.close());

const join_ = (inviteCode: string) =>
  Party.join({ inviteCode, store: new MemoryStateStore(), platform: nodePlatform });
const handlerIds = (party: string) => net.mediator.handlers(net.caucus[party]!).map((h) => h.deviceId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A push socket authenticated with `token`: its frames, and how it closed. */
async function pushSocket(token: string) {
  const ws = new WebSocket(`${net.server.url.replace(/^http/, "ws")}/v1/ws`);
  const frames: { type: string; error?: string }[] = [];
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const ready = new Promise<void>((resolve) =>
    ws.on("message", (data: Buffer) => {
      const f = JSON.parse(data.toString("utf8")) as { type: string; error?: string };
      frames.push(f);
      if (f.type === "ready") resolve();
    }),
  );
  ws.send(JSON.stringify({ type: "auth", token }));
  await ready;
  return { ws, frames, closed };
}

describe("admission waits for the mediator's confirmation", () => {
  test("a handler's device is pending, with its verification code, until the mediator admits it", async () => {
    const { code, confirm } = await net.mediator.invite(net.caucus.A!);
    expect(confirm).toBe(true);
    const handler = await join_(code);
    for (let i = 0; i < 2; i++) {
      await net.mediator.sync();
      await handler.sync();
    }
    expect(handler.joined).toBe(false);
    expect(handlerIds("A")).not.toContain(handler.deviceId);
    const snapshot = net.mediator.getSnapshot();
    expect(snapshot.pendingAdmissions).toEqual([
      expect.objectContaining({
        caucusId: net.caucus.A,
        partyName: "A",
        deviceId: handler.deviceId,
        handlerKey: handler.identityPublicKey,
        verificationCode: handler.verificationCode(),
      }),
    ]);
    expect(Object.isFrozen(snapshot.pendingAdmissions)).toBe(true);
    // Another sync with nothing new keeps the same snapshot object.
    await net.mediator.sync();
    expect(net.mediator.getSnapshot().pendingAdmissions).toBe(snapshot.pendingAdmissions);

    await net.mediator.admit(net.caucus.A!, handler.deviceId);
    expect(await handler.waitUntilJoined(10_000)).toBe(true);
    expect(handlerIds("A")).toContain(handler.deviceId);
    expect(net.mediator.getSnapshot().pendingAdmissions).toEqual([]);
    // The confirmation lives in the device's stored state.
    await expect(net.mediator.admit(net.caucus.A!, handler.deviceId)).rejects.toMatchObject({
      code: "admission_unknown",
    });
  });

  test("an invite made with confirm: false admits whoever redeems it on the next sync", async () => {
    const { code, confirm } = await net.mediator.invite(net.caucus.B!, { confirm: false });
    expect(confirm).toBe(false);
    const handler = await join_(code);
    await net.mediator.sync();
    expect(net.mediator.pendingAdmissions()).toEqual([]);
    expect(await handler.waitUntilJoined(10_000)).toBe(true);
  });

  test("admit refuses a device that is not waiting on this device's invite", async () => {
    await expect(net.mediator.admit(net.caucus.A!, crypto.randomUUID())).rejects.toMatchObject({
      code: "admission_unknown",
    });
  });
});

describe("invites expire and can be revoked", () => {
  test("an expired code is refused by the handler's device, the relay, and the mediator's device even if the relay lies", async () => {
    const { code, inviteId } = await net.mediator.invite(net.caucus.A!, { expiresInMs: 1_000 });
    await sleep(1_100);
    await expect(join_(code)).rejects.toMatchObject({ code: "invite_expired" });
    // Without the expiry in the code, the relay refuses it itself.
    const { expiresAt: _, ...rest } = decodeInviteCode(code);
    const unexpiring = encodeInviteCode(rest);
    await expect(join_(unexpiring)).rejects.toMatchObject({ code: "invite_expired" });
    // A relay that moves the expiry lets the device in, but the mediator's device never admits it.
    db.setInvite(inviteId, { expiresAt: Date.now() + 60_000 });
    const late = await join_(unexpiring);
    await net.mediator.sync();
    expect(net.mediator.pendingAdmissions().map((a) => a.deviceId)).not.toContain(late.deviceId);
    await expect(net.mediator.admit(net.caucus.A!, late.deviceId)).rejects.toMatchObject({
      code: "admission_unknown",
    });
    expect(handlerIds("A")).not.toContain(late.deviceId);
  });

  test("a revoked code is refused by the relay, and never admitted even if the relay un-revokes it", async () => {
    const { code, inviteId } = await net.mediator.invite(net.caucus.A!, { confirm: false });
    await net.mediator.revokeInvite(inviteId);
    await expect(join_(code)).rejects.toMatchObject({ code: "invite_revoked" });
    db.setInvite(inviteId, { revoked: false });
    const sneaky = await join_(code);
    await net.mediator.sync();
    await net.mediator.sync();
    expect(handlerIds("A")).not.toContain(sneaky.deviceId);
    expect(net.mediator.pendingAdmissions().map((a) => a.deviceId)).not.toContain(sneaky.deviceId);
    await expect(net.mediator.admit(net.caucus.A!, sneaky.deviceId)).rejects.toMatchObject({
      code: "admission_unknown",
    });
  });

  test("revoking an invite that was redeemed drops the waiting device: it can no longer log in", async () => {
    const { code, inviteId } = await net.mediator.invite(net.caucus.B!);
    const waiting = await join_(code);
    await net.mediator.sync();
    expect(net.mediator.pendingAdmissions().map((a) => a.deviceId)).toContain(waiting.deviceId);
    expect(await net.mediator.revokeInvite(inviteId)).toEqual({
      inviteId,
      droppedDeviceId: waiting.deviceId,
    });
    await net.mediator.sync();
    expect(net.mediator.pendingAdmissions()).toEqual([]);
    await expect(waiting.sync()).rejects.toMatchObject({ code: "device_removed" });
  });
});

describe("removed devices and sessions", () => {
  test("a removed handler's device cannot log in, its token is refused and its socket is closed", async () => {
    const store = new MemoryStateStore();
    const handler = await Party.join({
      inviteCode: (await net.mediator.invite(net.caucus.B!)).code,
      store,
      platform: nodePlatform,
    });
    await admitAfterComparing(net.mediator, handler);
    expect(await handler.waitUntilJoined(10_000)).toBe(true);
    const token = await handler.session.getToken();
    const socket = await pushSocket(token);
    await net.mediator.removeDevice(net.caucus.B!, handler.deviceId);
    expect(await socket.closed).toBe(4401);
    expect(socket.frames.map((f) => f.type)).toEqual(["ready", "membership", "error"]);
    expect(socket.frames[2]).toMatchObject({ error: "device_removed" });
    const me = await fetch(new URL("/v1/me", net.server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(401);
    const key = deviceState.parse(await readDeviceState(store)).authKey;
    await expect(
      new Session(net.server.url, handler.deviceId, key, nodePlatform).getToken(),
    ).rejects.toMatchObject({
      code: "device_removed",
    });
    // The device itself says so, and its caucus reads as removed.
    await expect(handler.sync()).rejects.toMatchObject({ code: "device_removed" });
    expect(handler.caucus(net.caucus.B!).removed).toBe(true);
  });

  test("logout revokes the token and closes the sockets opened with it; the device logs in again", async () => {
    const handler = net.handlers.A![0]!;
    const token = await handler.session.getToken();
    const socket = await pushSocket(token);
    expect(await handler.logout()).toBe(1);
    expect(await socket.closed).toBe(4401);
    expect(socket.frames.at(-1)).toMatchObject({ type: "error", error: "unauthenticated" });
    const me = await fetch(new URL("/v1/me", net.server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(401);
    await handler.sync(); // a fresh login
    const again = await pushSocket(await handler.session.getToken());
    expect(await handler.logout({ everywhere: true })).toBeGreaterThanOrEqual(1);
    expect(await again.closed).toBe(4401);
  });
});
