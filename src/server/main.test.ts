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

  it("reads the metrics listener and the drain timeout, refusing what they cannot be, in words", () => {
    expect(serveOptionsFromEnv({})).not.toHaveProperty("metricsPort");
    expect(serveOptionsFromEnv({})).not.toHaveProperty("drainTimeoutMs");
    expect(
      serveOptionsFromEnv({
        BACKCHANNEL_METRICS_PORT: "9464",
        BACKCHANNEL_METRICS_HOST: "0.0.0.0",
        BACKCHANNEL_DRAIN_TIMEOUT: "2.5",
      }),
    ).toMatchObject({ metricsPort: 9464, metricsHost: "0.0.0.0", drainTimeoutMs: 2500 });
    // Set but empty, as container environments leave them: unset.
    expect(
      serveOptionsFromEnv({ BACKCHANNEL_METRICS_PORT: "", BACKCHANNEL_DRAIN_TIMEOUT: "" }),
    ).not.toHaveProperty("metricsPort");
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_METRICS_PORT: "metrics" })).toThrow(
      'BACKCHANNEL_METRICS_PORT must be a port number (0-65535), got "metrics"',
    );
    expect(() => serveOptionsFromEnv({ BACKCHANNEL_DRAIN_TIMEOUT: "10s" })).toThrow(
      'BACKCHANNEL_DRAIN_TIMEOUT must be seconds (0-3600), got "10s"',
    );
  });
});
