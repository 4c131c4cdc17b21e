import { describe, expect, it } from "vitest";
import { base64UrlCodecs, fromBase64Url, toBase64Url } from "./encoding.js";

const codecs = Object.entries(base64UrlCodecs);

describe("base64url", () => {
  it("has the Node codec here, besides the portable one", () => {
    expect(Object.keys(base64UrlCodecs)).toEqual(expect.arrayContaining(["portable", "node"]));
  });

  it.each(codecs)("%s encodes as RFC 4648 base64url without padding", (_, codec) => {
    expect(codec.encode(new Uint8Array())).toBe("");
    expect(codec.encode(Uint8Array.of(0xfb, 0xff))).toBe("-_8");
    expect(codec.encode(new TextEncoder().encode("foobar"))).toBe("Zm9vYmFy");
    expect(codec.encode(new TextEncoder().encode("fooba"))).toBe("Zm9vYmE");
  });

  it.each(codecs)("%s agrees with the portable codec on every length, and round-trips", (_, codec) => {
    for (let n = 0; n < 80; n++) {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      const text = base64UrlCodecs.portable.encode(bytes);
      expect(codec.encode(bytes)).toBe(text);
      expect(codec.decode(text)).toEqual(bytes);
    }
  });

  it("encodes a view into a larger buffer as just the view", () => {
    const whole = Uint8Array.of(1, 2, 3, 4, 5, 6);
    expect(toBase64Url(whole.subarray(2, 4))).toBe(base64UrlCodecs.portable.encode(Uint8Array.of(3, 4)));
  });

  it("decodes into a plain Uint8Array of its own (not a pooled Buffer)", () => {
    const out = fromBase64Url("AQID");
    expect(out).toEqual(Uint8Array.of(1, 2, 3));
    expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
    expect(out.buffer.byteLength).toBe(3);
  });

  it.each(["a", "abcde", "ab=", "ab==", "a+bc", "a/bc", " abc", "ab\ncd", "é"])(
    "refuses %j with a TypeError",
    (s) => {
      expect(() => fromBase64Url(s)).toThrow(TypeError);
    },
  );
});
