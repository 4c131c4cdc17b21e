import { hexToBytes } from "@noble/hashes/utils.js";
import { describe, expect, test } from "vitest";
import { toHex, utf8 } from "../protocol/encoding.js";
import {
  generateIdentityKey,
  identityPublicKey,
  sign,
  signDomain,
  verify,
  verifyDomain,
} from "./identity.js";

const message = utf8("no new strikes");

describe("identity keys", () => {
  test("RFC 8032 test 1: same key and signature as the standard", () => {
    const secretKey = hexToBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    const publicKey = identityPublicKey(secretKey);
    expect(toHex(publicKey)).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const sig = sign(secretKey, new Uint8Array(0));
    expect(toHex(sig)).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    expect(verify(publicKey, new Uint8Array(0), sig)).toBe(true);
  });

  test("generates a 32-byte seed whose public key matches", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    expect(secretKey).toHaveLength(32);
    expect(publicKey).toHaveLength(32);
    expect(identityPublicKey(secretKey)).toEqual(publicKey);
  });

  test("sign then verify; another key or message fails", () => {
    const alice = generateIdentityKey();
    const mallory = generateIdentityKey();
    const sig = sign(alice.secretKey, message);
    expect(verify(alice.publicKey, message, sig)).toBe(true);
    expect(verify(mallory.publicKey, message, sig)).toBe(false);
    expect(verify(alice.publicKey, utf8("new strikes"), sig)).toBe(false);
  });

  test("malformed input returns false and never throws", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    const sig = sign(secretKey, message);
    const flipped = sig.slice();
    flipped[10] = flipped[10]! ^ 0x01;
    expect(verify(publicKey, message, flipped)).toBe(false);
    expect(verify(publicKey, message, sig.subarray(0, 63))).toBe(false);
    expect(verify(publicKey, message, new Uint8Array(64).fill(0xff))).toBe(false);
    expect(verify(publicKey, message, new Uint8Array(0))).toBe(false);
    expect(verify(publicKey.subarray(1), message, sig)).toBe(false);
    expect(verify(new Uint8Array(32).fill(0xff), message, sig)).toBe(false);
    expect(verify(publicKey, message, "not bytes" as unknown as Uint8Array)).toBe(false);
    expect(verify(null as unknown as Uint8Array, message, sig)).toBe(false);
  });

  test("refuses a malleated signature (S + L)", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    const sig = sign(secretKey, message);
    // S is little-endian in the second half; adding the group order L gives an S' that lax
    // verifiers accept as the same signature in a different encoding.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
    s += L;
    const mauled = sig.slice();
    for (let i = 32; i < 64; i++, s >>= 8n) mauled[i] = Number(s & 0xffn);
    expect(s).toBe(0n); // still fits in 32 bytes
    expect(verify(publicKey, message, mauled)).toBe(false);
  });

  test("refuses a small-order public key that would accept any message", () => {
    // The identity point as a key with R = identity, S = 0 "verifies" every message under ZIP 215.
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const sig = new Uint8Array(64);
    sig.set(identityPoint);
    expect(verify(identityPoint, message, sig)).toBe(false);
  });
});

describe("domain-separated signatures", () => {
  const payload = { channelId: "ch_1", parties: ["A", "B"], n: 2 };

  test("verify under the same domain and payload, whatever the key order", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    const sig = signDomain(secretKey, "backchannel/invite/v1", payload);
    const reordered = { n: 2, parties: ["A", "B"], channelId: "ch_1" };
    expect(verifyDomain(publicKey, "backchannel/invite/v1", reordered, sig)).toBe(true);
  });

  test("a signature for domain A fails under domain B", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    const sig = signDomain(secretKey, "backchannel/invite/v1", payload);
    expect(verifyDomain(publicKey, "backchannel/roster/v1", payload, sig)).toBe(false);
    // And a plain signature over the same JSON is not a domain signature.
    expect(
      verifyDomain(
        publicKey,
        "backchannel/invite/v1",
        payload,
        sign(secretKey, utf8(JSON.stringify(payload))),
      ),
    ).toBe(false);
  });

  test("a changed payload fails", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    const sig = signDomain(secretKey, "backchannel/invite/v1", payload);
    expect(verifyDomain(publicKey, "backchannel/invite/v1", { ...payload, n: 3 }, sig)).toBe(false);
  });

  test("a domain with a newline cannot be signed and never verifies", () => {
    const { secretKey, publicKey } = generateIdentityKey();
    expect(() => signDomain(secretKey, "a\nb", payload)).toThrow(TypeError);
    const sig = signDomain(secretKey, "a", payload);
    expect(verifyDomain(publicKey, "a\nb", payload, sig)).toBe(false);
    expect(verifyDomain(publicKey, "", payload, sig)).toBe(false);
    expect(verifyDomain(publicKey, "a", { x: Number.NaN }, sig)).toBe(false);
  });
});
