import { describe, expect, it } from "vitest";
import { serveOptionsFromEnv } from "./main.js";

describe("serveOptionsFromEnv", () => {
  it("reads BACKCHANNEL_NATS_URL and refuses anything but a nats:// URL, in words", () => {
    expect(serveOptionsFromEnv({}).natsUrl).toBeUndefined();
    expect(serveOptionsFromEnv({ BACKCHANNEL_NATS_URL: "nats://10.0.0.5:4222" }).natsUrl).toBe(
      "nats://10.0.0.5:4222",
    );
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_NATS_URL: "127.0.0.1:4222" })).toThrow(
      'BACKCHANNEL_NATS_URL: "127.0.0.1:4222" is not a nats:// URL such as nats://127.0.0.1:4222',
    );
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_NATS_URL: "http://nats:4222" })).toThrow(
      /not a nats:\/\/ URL/,
    );
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_NATS_URL: "nats://host:4222/x" })).toThrow(
      /path or query/,
    );
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_NATS_URL: "nats://u:secret@:4222" })).toThrow(
      /BACKCHANNEL_NATS_URL/,
    );
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_NATS_URL: "nats://u:secret@host:4222/x" })).not.toThrow(
      /secret/,
    );
  });
});
