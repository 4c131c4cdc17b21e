import { defineConfig } from "vitest/config";
import { limitsEnv } from "./src/server/limits/limits-config.js";
import { loadTestLimits } from "./src/server/limits/load-test-limits.js";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Relays the tests start as processes (`backchannel serve`) inherit this: many devices on
    // 127.0.0.1 sending flat out would trip a public relay's limits. In-process relays get the
    // same limits as options (test/helpers); the limits tests set their own.
    env: limitsEnv(loadTestLimits),
  },
});
