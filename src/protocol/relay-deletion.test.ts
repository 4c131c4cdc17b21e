import { describe, expect, test } from "vitest";
import { deleteAt, deletionHour, parseDeleteAt } from "./relay-deletion.js";

describe("a relay deletion time", () => {
  test("is the first whole hour not before the expiry, in one spelling", () => {
    expect(deletionHour("2026-11-30T14:20:00.000Z")).toBe("2026-11-30T15:00:00.000Z");
    expect(deletionHour("2026-11-30T14:00:00.001Z")).toBe("2026-11-30T15:00:00.000Z");
    expect(deletionHour("2026-11-30T14:00:00Z")).toBe("2026-11-30T14:00:00.000Z");
    expect(deletionHour("2026-11-30T23:30:00+02:00")).toBe("2026-11-30T22:00:00.000Z");
    expect(deletionHour(Date.parse("2026-12-31T23:59:59.999Z"))).toBe("2027-01-01T00:00:00.000Z");
    expect(() => deletionHour("soon")).toThrow(RangeError);
  });

  test("is read back only as an exact hour written as toISOString writes it", () => {
    expect(parseDeleteAt("2026-11-30T15:00:00.000Z")).toBe(Date.parse("2026-11-30T15:00:00Z"));
    for (const bad of [
      "2026-11-30T15:00:00Z",
      "2026-11-30T15:00:00.000+00:00",
      "2026-11-30T15:30:00.000Z",
      "2026-11-30T15:00:00.001Z",
      "2026-11-30",
      "tomorrow",
      "",
    ]) {
      expect(parseDeleteAt(bad), bad).toBeUndefined();
      expect(deleteAt.safeParse(bad).success, bad).toBe(false);
    }
    expect(deleteAt.safeParse("2026-11-30T15:00:00.000Z").success).toBe(true);
  });
});
