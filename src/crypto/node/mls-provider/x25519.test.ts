import { x25519 as noble } from "@noble/curves/ed25519.js";
import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { toHex } from "../../../protocol/encoding.js";
import { x25519 } from "./x25519.js";

describe("X25519 on node:crypto", () => {
  test("agrees with @noble/curves on public keys and shared secrets", () => {
    for (let i = 0; i < 20; i++) {
      const [a, b] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
      expect(toHex(x25519.getPublicKey(a))).toBe(toHex(noble.getPublicKey(a)));
      const shared = x25519.getSharedSecret(a, noble.getPublicKey(b));
      expect(toHex(shared)).toBe(toHex(noble.getSharedSecret(b, noble.getPublicKey(a))));
      // Plain Uint8Arrays over their own memory: the HPKE library serialises `.buffer`.
      expect(shared.constructor).toBe(Uint8Array);
      expect(shared.buffer.byteLength).toBe(32);
    }
  });

  test("RFC 7748 §5.2's test vector", () => {
    const scalar = "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4";
    const u = "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c";
    const out = x25519.getSharedSecret(Buffer.from(scalar, "hex"), Buffer.from(u, "hex"));
    expect(toHex(out)).toBe("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  });

  test("a small-order peer key, whose shared secret is all zeros, is refused (RFC 9180 §7.1.4)", () => {
    expect(() => x25519.getSharedSecret(new Uint8Array(randomBytes(32)), new Uint8Array(32))).toThrow();
  });

  test("keys of the wrong length are refused", () => {
    expect(() => x25519.getPublicKey(new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => x25519.getSharedSecret(new Uint8Array(32), new Uint8Array(33))).toThrow(/32 bytes/);
  });
});
