import { loginSigningString, removalsSigningString, utf8 } from "../protocol/index.js";
import { ApiError } from "./errors.js";
import { HttpClient } from "./http-client.js";
import type { AuthKeyPair, Platform } from "./platform.js";

/** A login token as the device's store keeps it between processes (see StateWriter.saveSession). */
export interface StoredSession {
  token: string;
  expiresAt: string;
}

/**
 * Challenge-response login: the server sends a one-time nonce, the device signs a
 * domain-separated string with its login key, the server returns a short-lived token. The token
 * is renewed a minute before it expires, and once more if the server refuses it (`withRetry`).
 *
 * `cached`: a token an earlier process of this device got (the CLI runs one process per command),
 * used as if this session had logged in itself; `onChange` hears every new token and every
 * forgotten one, so that the device's store can keep it for the next process.
 */
export class Session {
  private token: { value: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;
  readonly http: HttpClient;
  private readonly anon: HttpClient;

  constructor(
    serverUrl: string,
    private readonly deviceId: string,
    private readonly key: AuthKeyPair,
    private readonly platform: Platform,
    cached?: StoredSession,
    private readonly onChange?: (token: StoredSession | undefined) => void,
  ) {
    this.anon = new HttpClient(serverUrl, undefined, platform.transport);
    this.http = new HttpClient(serverUrl, () => this.getToken(), platform.transport);
    const expiresAt = cached ? Date.parse(cached.expiresAt) : NaN;
    if (cached && Number.isFinite(expiresAt)) this.token = { value: cached.token, expiresAt };
  }

  get anonymous(): HttpClient {
    return this.anon;
  }

  async getToken(): Promise<string> {
    if (this.token && this.token.expiresAt - Date.now() > 60_000) return this.token.value;
    this.pending ??= this.login().finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): void {
    if (!this.token) return;
    this.token = undefined;
    this.onChange?.(undefined);
  }

  private async login(): Promise<string> {
    const { nonce } = await this.anon.call("createChallenge", { body: { deviceId: this.deviceId } });
    const signature = await this.platform.signAuth(this.key, utf8(loginSigningString(this.deviceId, nonce)));
    const s = await this.anon.call("createSession", {
      body: { deviceId: this.deviceId, nonce, signature },
    });
    this.token = { value: s.token, expiresAt: Date.parse(s.expiresAt) };
    this.onChange?.({ token: s.token, expiresAt: s.expiresAt });
    return s.token;
  }

  /**
   * Revokes this session's token on the relay (`everywhere`: every token of this device, which
   * closes its push sockets in other processes too). The device can log in again later.
   */
  async logout(everywhere = false): Promise<number> {
    if (!this.token && !everywhere) return 0;
    try {
      const { revoked } = await this.http.call("logout", { body: { all: everywhere } });
      return revoked;
    } catch (e) {
      // Expired or revoked already: nothing left to revoke with it.
      if (e instanceof ApiError && (e.code === "token_expired" || e.code === "unauthenticated")) return 0;
      throw e;
    } finally {
      this.invalidate();
    }
  }

  /**
   * The mediator's signed word on this device's removals, as the relay keeps it. Needs no session
   * (a removed device can no longer log in), only the login key, under its own signing domain.
   */
  async removalProofs(): Promise<{ caucusId: string; signature: string }[]> {
    const { nonce } = await this.anon.call("createChallenge", { body: { deviceId: this.deviceId } });
    const signature = await this.platform.signAuth(
      this.key,
      utf8(removalsSigningString(this.deviceId, nonce)),
    );
    const { removals } = await this.anon.call("getRemovals", {
      body: { deviceId: this.deviceId, nonce, signature },
    });
    return removals;
  }

  /** Runs `fn`, logging in again once if the token was refused. */
  async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError && (e.code === "token_expired" || e.code === "unauthenticated")) {
        this.invalidate();
        return fn();
      }
      throw e;
    }
  }
}
