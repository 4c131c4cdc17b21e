import { describe, expect, test } from "vitest";
import { verificationCode } from "./verification-code.js";

const keyA = Uint8Array.from({ length: 32 }, (_, i) => i);
const keyB = new Uint8Array(32).fill(0xff);

describe("verificationCode", () => {
  test("matches the known answer computed independently from the spec", () => {
    // Python hashlib: per key, H0 = sha512(b"backchannel-verify-v1" + key), then 5199 rounds of
    // sha512(H + key); six big-endian 5-byte groups mod 10^5; halves ordered by key bytes.
    // Pinned so that no refactor can silently change every user's code.
    expect(verificationCode(keyA, keyB)).toBe(
      ["95350 12157 43663 89384", "73812 98310 87068 64622", "39508 03421 21358 25605"].join("\n"),
    );
  });

  test("is symmetric in its arguments", () => {
    expect(verificationCode(keyB, keyA)).toBe(verificationCode(keyA, keyB));
  });

  test("changes when either key changes", () => {
    const base = verificationCode(keyA, keyB);
    const a2 = keyA.slice();
    a2[31] = a2[31]! ^ 1;
    const b2 = keyB.slice();
    b2[0] = b2[0]! ^ 1;
    expect(verificationCode(a2, keyB)).not.toBe(base);
    expect(verificationCode(keyA, b2)).not.toBe(base);
  });

  test("is 12 groups of 5 digits in 3 lines of 4", () => {
    const code = verificationCode(crypto.getRandomValues(new Uint8Array(32)), keyB);
    expect(code).toMatch(/^(\d{5} \d{5} \d{5} \d{5}\n){2}\d{5} \d{5} \d{5} \d{5}$/);
  });

  test("rejects an empty key", () => {
    expect(() => verificationCode(new Uint8Array(0), keyB)).toThrow(TypeError);
  });
});
