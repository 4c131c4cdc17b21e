import { describe, expect, test } from "vitest";
import { cryptoBackend, useCryptoBackend } from "../crypto-backend.js";
import { verificationCode } from "../verification-code.js";
import { nodeCryptoBackend } from "./backend.js";

describe("node:crypto backend", () => {
  test("its SHA-512 gives verification codes the same known answer as the portable one", () => {
    const keyA = Uint8Array.from({ length: 32 }, (_, i) => i);
    const keyB = new Uint8Array(32).fill(0xff);
    const before = cryptoBackend();
    try {
      useCryptoBackend(nodeCryptoBackend);
      // The answer pinned in verification-code.test.ts (computed with Python's hashlib).
      expect(verificationCode(keyA, keyB)).toBe(
        ["95350 12157 43663 89384", "73812 98310 87068 64622", "39508 03421 21358 25605"].join("\n"),
      );
    } finally {
      useCryptoBackend(before);
    }
  });
});
