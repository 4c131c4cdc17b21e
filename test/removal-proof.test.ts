/**
 * Issue 7, item 4: a device concludes it was removed only from the mediator's signed word, never
 * from the relay's. A forged "not found" or "device removed" leaves its keys and transcript in
 * place, is shown as the relay refusing access, and the device recovers when the relay answers
 * honestly again; a real removal carries the mediator's signature, which the device verifies.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ApiError, type Party } from "../src/sdk/index.js";
import { on } from "./helpers/hostile-relay.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

describe("removal on the mediator's word, not the relay's", () => {
  let net: TestNetwork;
  let north: Party;
  let caucusId: string;

  beforeAll(async () => {
    net = await startNetwork({ parties: ["North", "South"], handlersPerParty: 2, hostile: true });
    north = net.handlers.North![0]!;
    caucusId = net.caucus.North!;
  });
  afterAll(async () => net?.close());

  test("a forged 'not found' keeps the device's state; it recovers when the relay is honest again", async () => {
    const relay = net.relayOf(north);
    const lie = relay.rule(
      on("GET", new RegExp(`^/v1/caucuses/${caucusId}/events$`), () => ({
        respond: { status: 404, body: { error: "not_found", message: "no such caucus" } },
      })),
    );
    await north.sync();
    expect(north.caucus(caucusId).removed).toBe(false);
    expect(north.caucus(caucusId).joined).toBe(true);
    expect(north.caucus(caucusId).accessRefused).toBe("not_found");
    lie.remove();
    await north.sync();
    expect(north.caucus(caucusId).accessRefused).toBeUndefined();
    const s = await north.send({ text: "Still here, whatever the relay said." });
    await net.mediator.sync();
    expect(net.mediator.entries(caucusId).some((e) => e.eventId === s.eventId)).toBe(true);
  });

  test("a forged 'device removed' at login keeps the device's state too", async () => {
    const relay = net.relayOf(north);
    const lie = relay.rule(
      on("POST", /^\/v1\/auth\/session$/, () => ({
        respond: { status: 403, body: { error: "device_removed", message: "this device was removed" } },
      })),
    );
    north.session.invalidate();
    await expect(north.sync()).rejects.toMatchObject({ code: "device_removed" });
    expect(north.caucus(caucusId).removed).toBe(false);
    expect(north.caucus(caucusId).accessRefused).toBe("device_removed");
    lie.remove();
    await north.sync();
    expect(north.caucus(caucusId).accessRefused).toBeUndefined();
    await north.send({ text: "And still here." });
  });

  test("a real removal is known from the mediator's signature, and only then", async () => {
    const gone = net.handlers.North![1]!;
    await net.mediator.removeDevice(caucusId, gone.deviceId);
    const refused = await gone.sync().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(gone.caucus(caucusId).removed).toBe(true);
    expect(gone.caucus(caucusId).joined).toBe(false);
  });
});
