import type { LimitsOptions } from "./limits-config.js";

/**
 * For the test suite and the benchmarks, never for a relay people use: their devices all sit on
 * 127.0.0.1 and send flat out (thousands of events in seconds), which the defaults rightly refuse.
 * The quotas and the page size keep their defaults, so the suite runs with those.
 */
const plenty = { points: 1_000_000_000, seconds: 1 };
export const loadTestLimits: LimitsOptions = {
  requestsPerIp: plenty,
  requestsPerDevice: plenty,
  loginsPerIp: plenty,
  failedLogins: plenty,
  postsPerCaucus: plenty,
  socketsPerDevice: 1_000_000,
};
