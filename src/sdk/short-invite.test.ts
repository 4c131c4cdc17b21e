import { describe, expect, it } from "vitest";
import {
  newShortCode,
  normalizeShortCode,
  sealShortInvite,
  shortCodeBits,
  shortCodeLookup,
} from "./short-invite.js";

describe("short invite codes", () => {
  it("are 20 Crockford characters in four groups: 100 bits", () => {
    expect(shortCodeBits).toBe(100);
    const codes = new Set(Array.from({ length: 200 }, () => newShortCode()));
    expect(codes.size).toBe(200);
    for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
  });

  it("read as typed over a phone: case, dashes, spaces, I and L for 1, O for 0", () => {
    expect(normalizeShortCode(" 7kq3m xhd9t-fawr2 p8n4c ")).toBe("7KQ3MXHD9TFAWR2P8N4C");
    expect(normalizeShortCode("ILO00-11111-22222-33333")).toBe("11000111112222233333");
    // U is not in the alphabet; a character short or long is no code.
    expect(normalizeShortCode("U0000-00000-00000-00000")).toBeUndefined();
    expect(normalizeShortCode("0000-00000-00000-00000")).toBeUndefined();
    expect(normalizeShortCode("000000-00000-00000-00000")).toBeUndefined();
    expect(() => shortCodeLookup("bc1-abc")).toThrow(
      expect.objectContaining({ code: "invite_code_invalid" }),
    );
  });

  it("seal the invite code so that only the same short code opens it", async () => {
    const sealed = await sealShortInvite("bc1-the-long-code");
    const lookup = shortCodeLookup(sealed.shortCode.toLowerCase());
    expect(lookup.lookupId).toBe(sealed.lookupId);
    expect(await lookup.open(sealed.box)).toBe("bc1-the-long-code");
    const other = shortCodeLookup(newShortCode());
    expect(other.lookupId).not.toBe(sealed.lookupId);
    await expect(other.open(sealed.box)).rejects.toMatchObject({ code: "invite_code_invalid" });
  });
});
