import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../app.js";
import type { AppOptions } from "../config.js";
import { newRegistrationToken } from "../registration/registration-token.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage } from "../storage/storage.js";
import { injectCall, newDevice, type Call } from "../test-helpers.js";

const NOW = Date.parse("2030-01-01T00:00:00Z");

describe("POST /v1/mediators: who may register", () => {
  let storage: Storage;
  let app: FastifyInstance;
  let call: Call;

  async function relay(options: AppOptions = {}): Promise<void> {
    storage = await openSqliteStorage({ inMemory: true });
    app = createApp(storage, { logger: false, now: () => NOW, ...options });
    call = injectCall(app);
  }
  afterEach(async () => {
    await app?.close();
    await storage?.close();
  });

  /** A token in the relay's storage, as `admin token create` leaves it. */
  async function issue(fields: { uses?: number; expiresAt?: number } = {}): Promise<string> {
    const t = newRegistrationToken();
    await storage.createRegistrationToken({
      tokenId: t.tokenId,
      tokenHash: t.tokenHash,
      uses: 1,
      createdAt: NOW,
      ...fields,
    });
    return t.token;
  }

  const register = (registrationToken?: string) => {
    const d = newDevice();
    return call("POST", "/v1/mediators", {
      deviceId: d.deviceId,
      authPublicKey: d.publicKey,
      ...(registrationToken === undefined ? {} : { registrationToken }),
    }).then((reply) => ({ ...reply, deviceId: d.deviceId }));
  };

  it("is closed by default: no token, no device, and the answer says what to do", async () => {
    await relay();
    const refused = await register();
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      error: "registration_closed",
      message: expect.stringContaining("ask the relay's operator for a registration token") as string,
    });
    expect(await storage.getDevice(refused.deviceId)).toBeUndefined();
  });

  it("registers with a token once, then answers a used token as it answers one never made", async () => {
    await relay();
    const token = await issue();
    const first = await register(token);
    expect(first).toMatchObject({ status: 201, body: { deviceId: first.deviceId, role: "mediator" } });
    const used = await register(token);
    const unknown = await register(`${token.slice(0, -4)}AAAA`);
    const expired = await register(await issue({ expiresAt: NOW }));
    const garbage = await register("x");
    expect(used.status).toBe(403);
    expect(used.body).toMatchObject({ error: "registration_token_invalid" });
    expect((used.body as { message: string }).message).toContain(
      "ask the relay's operator for a registration token",
    );
    // Nothing tells a used token, an expired one and one never made apart.
    for (const other of [unknown, expired, garbage])
      expect(other).toMatchObject({ status: used.status, body: used.body });
    for (const r of [used, unknown, expired, garbage])
      expect(await storage.getDevice(r.deviceId)).toBeUndefined();
  });

  it("registers anyone when the operator opened registration, ignoring a token", async () => {
    await relay({ registration: "open" });
    expect((await register()).status).toBe(201);
    expect((await register("not a token anyone made")).status).toBe(201);
  });

  it("documents the token and both refusals in the OpenAPI document", async () => {
    await relay();
    const doc = (await call("GET", "/openapi.json")).body as {
      paths: Record<string, { post?: { description?: string } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const description = doc.paths["/v1/mediators"]?.post?.description ?? "";
    expect(description).toContain("registration_closed");
    expect(description).toContain("registration_token_invalid");
    expect(JSON.stringify(doc)).toContain("registrationToken");
  });
});
