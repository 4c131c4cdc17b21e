import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { RateLimitedError, ServerError } from "../errors.js";
import type { LimitsConfig, RateLimit } from "./limits-config.js";
import type { LimiterStore, RequestCounter } from "./limiter-store.js";

/**
 * Every abuse limit the relay applies, each a method that resolves or throws the refusal: a 429
 * RateLimitedError (with retry_after) for a rate, rate_limited without a wait for a socket count.
 * The quotas on stored bytes are enforced by storage, inside the append (Storage.appendEvent's
 * `quota`), so concurrent appends cannot overshoot them; this hands them over.
 */
export class RelayLimits {
  private readonly requestsPerIp: RequestCounter;
  private readonly requestsPerDevice: RequestCounter;
  private readonly loginsPerIp: RateLimiterAbstract;
  private readonly failedLogins: RateLimiterAbstract;
  private readonly postsPerCaucus: RequestCounter;
  private readonly sockets = new SocketCount();

  constructor(
    readonly config: LimitsConfig,
    readonly store: LimiterStore,
  ) {
    // What every request spends goes through the store's per-request counters (batched in
    // PostgreSQL); the login limits, small numbers a few points over would matter for, stay exact.
    const count = (name: keyof LimitsConfig, limit: RateLimit) => store.counter(name, limit);
    const make = (name: keyof LimitsConfig, limit: RateLimit) => store.limiter(name, limit);
    this.requestsPerIp = count("requestsPerIp", config.requestsPerIp);
    this.requestsPerDevice = count("requestsPerDevice", config.requestsPerDevice);
    this.loginsPerIp = make("loginsPerIp", config.loginsPerIp);
    this.failedLogins = make("failedLogins", config.failedLogins);
    this.postsPerCaucus = count("postsPerCaucus", config.postsPerCaucus);
  }

  get pageBytes(): number {
    return this.config.pageBytes;
  }

  get quota(): { caucusBytes: number; channelBytes: number } {
    return { caucusBytes: this.config.caucusBytes, channelBytes: this.config.channelBytes };
  }

  /** Any request from this address. */
  request(ip: string): Promise<void> {
    return take(this.requestsPerIp, ip, "too many requests from this address");
  }

  /** An authenticated request, or a push socket's login, of this device. */
  device(deviceId: string): Promise<void> {
    return take(this.requestsPerDevice, deviceId, "too many requests from this device");
  }

  /**
   * A login call from this address for this device: refused while the address is over its login
   * calls, or while this device has failed too often from this address.
   */
  async login(ip: string, deviceId: string): Promise<void> {
    const failed = await this.failedLogins.get(failureKey(ip, deviceId));
    if (failed && failed.consumedPoints >= this.config.failedLogins.points)
      throw new RateLimitedError(
        "too many failed logins for this device from this address",
        failed.msBeforeNext,
      );
    await take(this.loginsPerIp, ip, "too many logins from this address");
  }

  /**
   * A take of a short invite from this address: each is a guess at a short code, so they share
   * the address's login allowance (a failed login and a wrong code cost alike).
   */
  shortInviteTake(ip: string): Promise<void> {
    return take(this.loginsPerIp, ip, "too many logins and short invite takes from this address");
  }

  /** Counts a failed login (bad nonce or signature) against this device from this address. */
  async loginFailed(ip: string, deviceId: string): Promise<void> {
    // The failure itself is answered as it is; the next attempt meets the limit.
    await this.failedLogins.penalty(failureKey(ip, deviceId));
  }

  /** An event this device appends to this caucus. */
  post(caucusId: string, deviceId: string): Promise<void> {
    return take(
      this.postsPerCaucus,
      `${caucusId}:${deviceId}`,
      "too many events in this caucus from this device",
    );
  }

  /**
   * Holds one of this device's push sockets on this node until the returned release is called;
   * throws rate_limited when the device already holds socketsPerDevice of them here.
   */
  openSocket(deviceId: string): () => void {
    return this.sockets.hold(deviceId, this.config.socketsPerDevice);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

const failureKey = (ip: string, deviceId: string): string => `${deviceId}@${ip}`;

/** Consumes one point; a key over its limit becomes a 429 that says when to try again. */
async function take(limiter: RequestCounter, key: string, message: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (refused) {
    if (refused instanceof RateLimiterRes) throw new RateLimitedError(message, refused.msBeforeNext);
    throw refused;
  }
}

/**
 * Sockets are held, not spent, so this is a count (per node: a socket uses the node it is on, and
 * a node that dies takes its count with it instead of leaving a shared counter too high). The
 * rate at which a device opens sockets anywhere is bounded by requestsPerDevice, which each
 * socket's login consumes.
 */
class SocketCount {
  private readonly open = new Map<string, number>();

  hold(deviceId: string, max: number): () => void {
    const n = this.open.get(deviceId) ?? 0;
    if (n >= max)
      throw new ServerError(
        "rate_limited",
        `this device already has ${max} push sockets open; close one first`,
      );
    this.open.set(deviceId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(deviceId) ?? 1) - 1;
      if (left > 0) this.open.set(deviceId, left);
      else this.open.delete(deviceId);
    };
  }
}
