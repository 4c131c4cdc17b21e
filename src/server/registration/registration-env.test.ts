import { describe, expect, it } from "vitest";
import { registrationFromEnv, registrationLine } from "./registration-env.js";

describe("BACKCHANNEL_REGISTRATION", () => {
  it("is closed unless the operator opens it; an empty variable counts as unset", () => {
    expect(registrationFromEnv({})).toBe("tokens");
    expect(registrationFromEnv({ BACKCHANNEL_REGISTRATION: "" })).toBe("tokens");
    expect(registrationFromEnv({ BACKCHANNEL_REGISTRATION: "open" })).toBe("open");
  });

  it("stops the relay on anything else, naming what it takes", () => {
    expect(() => registrationFromEnv({ BACKCHANNEL_REGISTRATION: "Open" })).toThrow(
      'BACKCHANNEL_REGISTRATION must be tokens or open, got "Open"',
    );
  });

  it("makes an open relay warn at start, and a closed one say how to make a token", () => {
    expect(registrationLine("open")).toMatch(/^WARNING: registration is open/);
    expect(registrationLine("tokens")).toContain("backchannel admin token create");
  });
});
