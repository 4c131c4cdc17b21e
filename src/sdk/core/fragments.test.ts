import { describe, expect, test } from "vitest";
import { limits } from "../../protocol/index.js";
import { bucketSize, pad } from "../../crypto/mls/padding.js";
import { readFragment, splitPayload } from "./fragments.js";

const id = "0b6f5b0e-7d0a-4c39-9d3e-0d6a3c1f2e4a";

describe("fragments", () => {
  test("a payload that fits one message goes whole, under its own id", () => {
    const payload = new Uint8Array(limits.fragmentBytes).fill(0x7b);
    const out = splitPayload(payload, id);
    expect(out.length).toBe(1);
    expect(out[0]!.eventId).toBe(id);
    expect(out[0]!.plaintext).toBe(payload);
    expect(readFragment(payload)).toBeUndefined();
  });

  test("a larger one goes in ordered fragments, each in the 256 KiB bucket, the last under its id", () => {
    const payload = new Uint8Array(limits.fragmentBytes * 3 + 17).map((_, i) => (i * 7) % 251);
    const out = splitPayload(payload, id);
    expect(out.length).toBe(4);
    expect(out.at(-1)!.eventId).toBe(id);
    expect(new Set(out.map((m) => m.eventId)).size).toBe(4);
    const shares: Uint8Array[] = [];
    out.forEach((m, index) => {
      expect(pad(m.plaintext).length).toBeLessThanOrEqual(256 * 1024);
      const f = readFragment(m.plaintext);
      if (!f || "malformed" in f) throw new Error("not a fragment");
      expect(f.header).toEqual({ of: id, index, count: 4 });
      shares.push(f.share);
    });
    expect(Buffer.concat(shares).equals(Buffer.from(payload))).toBe(true);
    expect(bucketSize(limits.fragmentBytes + 4)).toBe(256 * 1024);
  });

  test("a fragment with a bad header is malformed, not a crash", () => {
    const bad = (s: string) => new Uint8Array([0, ...Buffer.from(s), 0x0a, 1, 2]);
    for (const p of [
      bad("not json"),
      bad(JSON.stringify({ of: id, index: 2, count: 2 })),
      bad(JSON.stringify({ of: id, index: 0, count: 1 })),
      bad(JSON.stringify({ of: "x", index: 0, count: 2 })),
      new Uint8Array([0, 1, 2, 3]),
    ])
      expect(readFragment(p)).toHaveProperty("malformed");
  });
});
