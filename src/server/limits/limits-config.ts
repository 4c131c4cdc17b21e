/**
 * The relay's abuse limits, in one object: what a relay on the open internet refuses, and how
 * much. Every field can be set through AppOptions.limits (startServer passes it on) and, for
 * `backchannel serve`, through the environment (limitsFromEnv). The README's "Limits" table lists
 * the same fields, defaults and variables.
 */

/** `points` actions per `seconds`, counted per key over a fixed window. */
export interface RateLimit {
  points: number;
  seconds: number;
}

export interface LimitsConfig {
  /** Every request, by client address (X-Forwarded-For only with trustProxy). */
  requestsPerIp: RateLimit;
  /** Every authenticated request and push-socket login, by device. */
  requestsPerDevice: RateLimit;
  /** Login calls (challenge, session, removals), by client address: each challenge is a stored row. */
  loginsPerIp: RateLimit;
  /**
   * Failed logins (a bad signature or nonce), by device id and client address together: another
   * address can never lock a device out, and one address cannot go on guessing for one device.
   */
  failedLogins: RateLimit;
  /** Events appended, by caucus and sending device: one flooding member does not silence the others. */
  postsPerCaucus: RateLimit;
  /** Push sockets one device holds open on one relay node at once. */
  socketsPerDevice: number;
  /** Stored ciphertext of one caucus, bytes (application messages are refused past it). */
  caucusBytes: number;
  /** Stored ciphertext of all caucuses of one channel, bytes. */
  channelBytes: number;
  /** Ciphertext in one page of GET …/events, bytes (a page always holds at least one event). */
  pageBytes: number;
}

const MiB = 1024 * 1024;

/** For a public relay: far above what people using it do, far below what a flood needs. */
export const defaultLimits: LimitsConfig = {
  requestsPerIp: { points: 600, seconds: 60 },
  requestsPerDevice: { points: 300, seconds: 60 },
  loginsPerIp: { points: 60, seconds: 60 },
  failedLogins: { points: 10, seconds: 15 * 60 },
  postsPerCaucus: { points: 60, seconds: 60 },
  socketsPerDevice: 8,
  caucusBytes: 64 * MiB,
  channelBytes: 256 * MiB,
  pageBytes: 1 * MiB,
};

export type LimitsOptions = Partial<LimitsConfig>;

export function resolveLimits(options: LimitsOptions = {}): LimitsConfig {
  const limits = { ...defaultLimits, ...options };
  for (const [name, value] of Object.entries(limits) as [
    keyof LimitsConfig,
    LimitsConfig[keyof LimitsConfig],
  ][]) {
    const ok = typeof value === "number" ? isCount(value) : isCount(value.points) && isCount(value.seconds);
    if (!ok) throw new Error(`limits.${name}: expected positive whole numbers, got ${JSON.stringify(value)}`);
  }
  return limits;
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n > 0;

export type LimitEnvName = `BACKCHANNEL_LIMITS_${string}`;

/** BACKCHANNEL_LIMITS_ and the field's name in capitals: requestsPerIp → BACKCHANNEL_LIMITS_REQUESTS_PER_IP. */
export const limitEnvName = (field: keyof LimitsConfig): LimitEnvName =>
  `BACKCHANNEL_LIMITS_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/**
 * The limits set in the environment: a rate as `POINTS/SECONDS` (`600/60`), a count or a size as
 * a whole number (bytes for sizes). Unset fields keep their defaults.
 */
export function limitsFromEnv(env: { [name: LimitEnvName]: string | undefined }): LimitsOptions {
  const options: Record<string, number | RateLimit> = {};
  for (const field of Object.keys(defaultLimits) as (keyof LimitsConfig)[]) {
    const name = limitEnvName(field);
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") continue;
    if (typeof defaultLimits[field] === "number") {
      if (!/^\d+$/.test(raw) || !isCount(Number(raw)))
        throw new Error(`${name} must be a positive whole number, got "${raw}"`);
      options[field] = Number(raw);
    } else {
      const m = /^(\d+)\s*\/\s*(\d+)$/.exec(raw);
      if (!m || !isCount(Number(m[1])) || !isCount(Number(m[2])))
        throw new Error(`${name} must be POINTS/SECONDS such as 600/60, got "${raw}"`);
      options[field] = { points: Number(m[1]), seconds: Number(m[2]) };
    }
  }
  return options;
}

/** The environment that sets `limits` (for relays started as processes, as tests and bench do). */
export function limitsEnv(limits: LimitsOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, value] of Object.entries(limits) as [keyof LimitsConfig, number | RateLimit][]) {
    env[limitEnvName(field)] = typeof value === "number" ? String(value) : `${value.points}/${value.seconds}`;
  }
  return env;
}
