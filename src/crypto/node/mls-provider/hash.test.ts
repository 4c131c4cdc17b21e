import { hexToBytes } from "@noble/hashes/utils.js";
import { describe, expect, test } from "vitest";
import { toHex } from "../../../protocol/encoding.js";
import { hkdfSha256, NodeHkdfSha256 } from "./hash.js";

const range = (from: number, to: number) => Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** RFC 5869 Appendix A, the SHA-256 cases: each gives the PRK, so Expand is checked on its own. */
const rfc5869: [
  string,
  { ikm: Uint8Array; salt: Uint8Array; info: Uint8Array; length: number; prk: string; okm: string },
][] = [
  [
    "A.1 (basic)",
    {
      ikm: new Uint8Array(22).fill(0x0b),
      salt: range(0x00, 0x0c),
      info: range(0xf0, 0xf9),
      length: 42,
      prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
      okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    },
  ],
  [
    "A.2 (longer inputs, three blocks)",
    {
      ikm: range(0x00, 0x4f),
      salt: range(0x60, 0xaf),
      info: range(0xb0, 0xff),
      length: 82,
      prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
      okm:
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09" +
        "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
    },
  ],
  [
    "A.3 (empty salt and info)",
    {
      ikm: new Uint8Array(22).fill(0x0b),
      salt: new Uint8Array(),
      info: new Uint8Array(),
      length: 42,
      prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
      okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    },
  ],
];

describe("HKDF-SHA256 on node:crypto (RFC 5869 test vectors)", () => {
  test.each(rfc5869)("%s", async (_name, v) => {
    expect(toHex(await hkdfSha256.extract(v.salt, v.ikm))).toBe(v.prk);
    expect(toHex(await hkdfSha256.expand(hexToBytes(v.prk), v.info, v.length))).toBe(v.okm);
    // The HPKE library's plug-in: the same three primitives, Extract-and-Expand being hkdfSync.
    const hpkeKdf = new NodeHkdfSha256();
    expect(toHex(new Uint8Array(await hpkeKdf.extract(v.salt, v.ikm)))).toBe(v.prk);
    expect(toHex(new Uint8Array(await hpkeKdf.expand(hexToBytes(v.prk), v.info, v.length)))).toBe(v.okm);
    expect(toHex(new Uint8Array(await hpkeKdf.extractAndExpand(v.salt, v.ikm, v.info, v.length)))).toBe(
      v.okm,
    );
  });

  test("Expand refuses more than 255 blocks, as the RFC bounds L", async () => {
    await expect(hkdfSha256.expand(new Uint8Array(32), new Uint8Array(), 255 * 32 + 1)).rejects.toThrow(
      RangeError,
    );
    expect(await hkdfSha256.expand(new Uint8Array(32), new Uint8Array(), 255 * 32)).toHaveLength(255 * 32);
  });
});
