import { describe, expect, test } from "vitest";
import { appendEventRequest, eventId, newEventId } from "../protocol/index.js";
import { caucusRecord } from "./device-state.js";

const v4 = "3b241101-e2bb-4255-8caf-4136c566a962";
const v7 = "0190f5a2-8c1e-7a3b-9d4e-1f2a3b4c5d6e";
const v1 = "c232ab00-9414-11ec-b3c8-9f6bdeced846";
const hash = "0".repeat(64);

describe("event ids", () => {
  test("a new event's id must be random (v4); a stored one may still be v7", () => {
    expect(newEventId.safeParse(v4).success).toBe(true);
    for (const timed of [v7, v1]) expect(newEventId.safeParse(timed).success).toBe(false);
    expect(eventId.safeParse(v7).success).toBe(true);
    expect(eventId.safeParse(v1).success).toBe(false);
    expect(
      appendEventRequest.safeParse({ eventId: v7, kind: "application", epoch: 0, ciphertext: "AAAA" })
        .success,
    ).toBe(false);
  });

  test("a device's stored transcript with v7 ids (written before ids became random) still loads", () => {
    const payload = {
      v: 1,
      eventId: v7,
      caucusId: v4,
      sentAt: "2026-01-02T03:04:05.678Z",
      seen: { seq: 0, hash },
      body: { type: "note", text: "from before" },
    };
    const record = {
      caucusId: v4,
      anchor: { seq: 0, hash },
      head: { seq: 1, hash },
      entries: [
        {
          seq: 1,
          eventId: v7,
          hash,
          senderDeviceId: v4,
          senderRole: "mediator",
          kind: "application",
          epoch: 0,
          payload,
        },
      ],
      outbox: { [v7]: payload },
    };
    expect(caucusRecord.parse(record).entries[0]!.eventId).toBe(v7);
  });
});
