import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { concatBytes, toHex } from "../../protocol/encoding.js";
import { seedToPkcs8 } from "../auth-key-format.js";
import { nobleEd25519 } from "../ed25519.js";
import { nodeEd25519, signEd25519, verifyEd25519 } from "./ed25519.js";

/**
 * Identity keys moved from @noble/curves to node:crypto on Node, while the browser keeps noble:
 * both must give the same answer for every signature a device can meet, honest or hostile.
 */
const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const random = (n: number) => new Uint8Array(randomBytes(n));

function flip(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[(bit >> 3) % out.length]! ^= 1 << (bit & 7);
  return out;
}

/** The eight points of order dividing 8, canonically encoded: keys that "sign" too much. */
const SMALL_ORDER = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
].map(hexToBytes);

function agree(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const ours = nodeEd25519.verify(publicKey, message, signature);
  expect(ours, `node:crypto and noble disagree on ${toHex(signature)}`).toBe(
    nobleEd25519.verify(publicKey, message, signature),
  );
  return ours;
}

describe("identity Ed25519 on node:crypto, cross-checked against @noble/curves", () => {
  test("the same signatures, byte for byte, and both verify them", () => {
    for (let i = 0; i < 50; i++) {
      const seed = random(32);
      const message = random(i * 7);
      const signature = nodeEd25519.sign(seed, message);
      expect(toHex(signature)).toBe(toHex(nobleEd25519.sign(seed, message)));
      expect(agree(ed25519.getPublicKey(seed), message, signature)).toBe(true);
    }
  });

  test("a seed and its PKCS#8 form (what WebCrypto exports) are the same key", () => {
    const seed = random(32);
    const message = random(64);
    expect(toHex(signEd25519(seedToPkcs8(seed), message))).toBe(toHex(signEd25519(seed, message)));
  });

  test("every flipped bit of signature, message or key is refused by both", () => {
    const seed = random(32);
    const publicKey = ed25519.getPublicKey(seed);
    const message = random(48);
    const signature = nodeEd25519.sign(seed, message);
    for (let bit = 0; bit < 512; bit += 3)
      expect(agree(publicKey, message, flip(signature, bit))).toBe(false);
    for (let bit = 0; bit < 384; bit += 5)
      expect(agree(publicKey, flip(message, bit), signature)).toBe(false);
    for (let bit = 0; bit < 256; bit += 7)
      expect(agree(flip(publicKey, bit), message, signature)).toBe(false);
  });

  test("malformed lengths are refused by both, without throwing", () => {
    const seed = random(32);
    const publicKey = ed25519.getPublicKey(seed);
    const signature = nodeEd25519.sign(seed, new Uint8Array());
    expect(agree(publicKey.subarray(1), new Uint8Array(), signature)).toBe(false);
    expect(agree(publicKey, new Uint8Array(), signature.subarray(1))).toBe(false);
    expect(agree(publicKey, new Uint8Array(), concatBytes(signature, new Uint8Array(1)))).toBe(false);
  });

  test("a malleated signature (s + L) is refused by both", () => {
    const seed = random(32);
    const message = random(32);
    const signature = nodeEd25519.sign(seed, message);
    const s = bytesToNumberLE(signature.subarray(32));
    const malleated = concatBytes(signature.subarray(0, 32), numberToBytesLE(s + L, 32));
    expect(agree(ed25519.getPublicKey(seed), message, malleated)).toBe(false);
  });

  test("a small-order public key is refused by both, though OpenSSL alone would accept it", () => {
    const message = random(32);
    for (const key of SMALL_ORDER) {
      // With A of small order, (R = sB, s) satisfies sB = R + hA for any message when hA = 0:
      // for the identity always, for the others whenever 8 divides h.
      for (let attempt = 0; attempt < 16; attempt++) {
        const s = bytesToNumberLE(random(32)) % L;
        const signature = concatBytes(Point.BASE.multiply(s).toBytes(), numberToBytesLE(s, 32));
        expect(agree(key, message, signature)).toBe(false);
      }
    }
    // Why the check is there: the identity "signs" anything as far as OpenSSL is concerned.
    const s = 12345n;
    const universal = concatBytes(Point.BASE.multiply(s).toBytes(), numberToBytesLE(s, 32));
    expect(verifyEd25519(SMALL_ORDER[0]!, message, universal)).toBe(true);
  });

  test("a non-canonical key encoding (y ≥ p) is refused by both", () => {
    // y = p + 1 ≡ 1 (the identity), encoded without reduction.
    const nonCanonical = hexToBytes("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    const s = 777n;
    const signature = concatBytes(Point.BASE.multiply(s).toBytes(), numberToBytesLE(s, 32));
    expect(agree(nonCanonical, random(16), signature)).toBe(false);
  });

  test("the one known difference: R with a small-order component passes noble's cofactored check only", () => {
    // Made by the key's own holder: R = rB + T (T of order 8), s = r + h·a. noble checks
    // [8]sB = [8]R + [8]hA and accepts; OpenSSL checks sB − hA = R and refuses. Either way the
    // signer could have signed honestly, so it gains nothing but a signature Node refuses and the
    // browser accepts: a device that meets one reports the roster untrusted.
    const { scalar: a, pointBytes: publicKey } = ed25519.utils.getExtendedPublicKey(random(32));
    const message = random(32);
    const r = bytesToNumberLE(random(32)) % L;
    const R = Point.BASE.multiply(r).add(Point.fromBytes(SMALL_ORDER[6]!)).toBytes();
    const h = bytesToNumberLE(sha512(concatBytes(R, publicKey, message))) % L;
    const signature = concatBytes(R, numberToBytesLE((r + h * a) % L, 32));
    expect(nobleEd25519.verify(publicKey, message, signature)).toBe(true);
    expect(nodeEd25519.verify(publicKey, message, signature)).toBe(false);
  });
});
