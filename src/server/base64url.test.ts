import { randomBytes, randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkBase64Url, decodeBase64Url } from "./base64url.js";

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The definition: canonical iff Node's decoder and encoder give back the same string. */
const roundTrips = (s: string): boolean =>
  /^[A-Za-z0-9_-]*$/.test(s) && Buffer.from(s, "base64url").toString("base64url") === s;

const accepts = (s: string): boolean => {
  try {
    checkBase64Url(s, "x");
    return true;
  } catch {
    return false;
  }
};

describe("base64url", () => {
  it("accepts exactly the strings that survive a decode and re-encode", () => {
    const samples = ["", "A", "AA", "AB", "AAA", "AAB", "AAE", "AAAA", "AA==", "A+B/", "AQ", "AQI"];
    // Every last character after every length class, on random prefixes.
    for (let length = 1; length <= 9; length++)
      for (const last of alphabet) {
        const prefix = Array.from({ length: length - 1 }, () => alphabet[randomInt(64)]).join("");
        samples.push(prefix + last);
      }
    for (let i = 0; i < 200; i++) samples.push(randomBytes(randomInt(0, 40)).toString("base64url"));
    for (const s of samples) expect(accepts(s), JSON.stringify(s)).toBe(roundTrips(s));
  });

  it("decodes what it accepts and refuses the rest with invalid_request", () => {
    const bytes = randomBytes(33);
    expect(decodeBase64Url(bytes.toString("base64url"), "x")).toEqual(bytes);
    expect(() => decodeBase64Url("AB", "ciphertext")).toThrow(
      expect.objectContaining({ code: "invalid_request", message: "ciphertext: not canonical base64url" }),
    );
  });
});
