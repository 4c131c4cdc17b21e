import { describe, expect, test } from "vitest";
import type { Notifier } from "../notifier.js";
import { publishSoon } from "./publish.js";

const log = { warn: () => undefined } as unknown as Parameters<typeof publishSoon>[1];
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("publishSoon", () => {
  test("pushes nothing before the caller returns, then every delivery once, in order, a chunk per turn", async () => {
    const pushed: string[] = [];
    const notifier = {
      publish(deviceId: string) {
        pushed.push(deviceId);
        // One broken socket stops nothing after it.
        return deviceId === "d3" ? Promise.reject(new Error("socket gone")) : Promise.resolve();
      },
    } as unknown as Notifier;
    const deliveries = Array.from({ length: 600 }, (_, i) => ({
      deviceId: `d${i}`,
      frame: { type: "event" as const, caucusId: "c", seq: 1 },
    }));
    publishSoon(notifier, log, deliveries);
    expect(pushed).toHaveLength(0);
    await nextTurn();
    expect(pushed).toHaveLength(256);
    for (let i = 0; i < 5 && pushed.length < 600; i++) await nextTurn();
    expect(pushed).toEqual(deliveries.map((d) => d.deviceId));
  });
});
