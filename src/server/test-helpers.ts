/**
 * Test-only helpers shared by the relay's tests: real Ed25519 keys from node:crypto (the relay
 * never holds private keys; tests play the devices), a UUIDv7 maker (to test that the relay refuses
 * ids carrying a time), and a request function
 * that works over app.inject or a real socket.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { WebSocket } from "ws";
import {
  BackchannelError,
  challengeResponse,
  createCaucusResponse,
  createChannelResponse,
  loginSigningString,
  parse,
  redeemSigningString,
  serverFrame,
  sessionResponse,
  type ServerFrame,
} from "../protocol/index.js";
import type { AppendEventInput } from "./storage/storage.js";

export interface TestKey {
  /** Raw public key, base64url. */
  publicKey: string;
  /** Ed25519 over the UTF-8 bytes of `message`, base64url. */
  sign(message: string): string;
}

export function newKey(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x;
  if (!x) throw new Error("no raw public key");
  return {
    publicKey: x,
    sign: (message) => sign(null, Buffer.from(message, "utf8"), privateKey).toString("base64url"),
  };
}

export interface TestDevice extends TestKey {
  deviceId: string;
}

export const newDevice = (): TestDevice => ({ deviceId: randomUUID(), ...newKey() });

/** An id with its creation time in it (UUIDv7): only for tests that the relay refuses one. */
export function uuidv7(): string {
  const b = randomBytes(16);
  b.writeUIntBE(Date.now(), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const randomB64 = (n: number): string => randomBytes(n).toString("base64url");

/** For storage tests: an application message at epoch 0 with a fresh id, unless `over` says otherwise. */
export const appendInput = (
  caucusId: string,
  senderDeviceId: string,
  over: Partial<AppendEventInput> = {},
): AppendEventInput => ({
  caucusId,
  senderDeviceId,
  eventId: randomUUID(),
  kind: "application",
  epoch: 0,
  ciphertext: randomB64(64),
  welcomes: [],
  removes: [],
  ...over,
});
export const sha256Hex = (b64url: string): string =>
  createHash("sha256").update(Buffer.from(b64url, "base64url")).digest("hex");

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
}

export type Call = (
  method: "GET" | "POST" | "PUT" | "DELETE",
  url: string,
  body?: unknown,
  token?: string,
) => Promise<Reply>;

export function injectCall(app: FastifyInstance): Call {
  return async (method, url, body, token) => {
    const res = await app.inject({
      method,
      url,
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as unknown) : undefined };
  };
}

/** `headers` go with every request (e.g. X-Forwarded-For, as a client behind a proxy). */
export function fetchCall(baseUrl: string, headers: Record<string, string> = {}): Call {
  return async (method, url, body, token) => {
    const res = await fetch(baseUrl + url, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headers: {
        ...headers,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
}

/** Challenge + signed session; returns the bearer token (throws on any failure). */
export async function login(call: Call, device: TestDevice): Promise<string> {
  const challenge = await call("POST", "/v1/auth/challenge", { deviceId: device.deviceId });
  if (challenge.status !== 200) throw new Error(`challenge: ${JSON.stringify(challenge.body)}`);
  const { nonce } = parse(challengeResponse, challenge.body);
  const session = await call("POST", "/v1/auth/session", {
    deviceId: device.deviceId,
    nonce,
    signature: device.sign(loginSigningString(device.deviceId, nonce)),
  });
  if (session.status !== 200) throw new Error(`session: ${JSON.stringify(session.body)}`);
  return parse(sessionResponse, session.body).token;
}

/** A registered, logged-in mediator with one channel and one caucus. */
export async function mediatorWithCaucus(call: Call): Promise<{
  device: TestDevice;
  token: string;
  channelId: string;
  caucusId: string;
}> {
  const device = newDevice();
  const reg = await call("POST", "/v1/mediators", {
    deviceId: device.deviceId,
    authPublicKey: device.publicKey,
  });
  if (reg.status !== 201) throw new Error(`register: ${JSON.stringify(reg.body)}`);
  const token = await login(call, device);
  const { channelId } = parse(createChannelResponse, (await call("POST", "/v1/channels", {}, token)).body);
  const caucus = await call("POST", `/v1/channels/${channelId}/caucuses`, {}, token);
  if (caucus.status !== 201) throw new Error(`caucus: ${JSON.stringify(caucus.body)}`);
  return { device, token, channelId, caucusId: parse(createCaucusResponse, caucus.body).caucusId };
}

/** The mediator posts an application message of random bytes into its caucus; returns its seq (throws unless 201). */
export async function postApplication(
  call: Call,
  mediator: { token: string; caucusId: string },
): Promise<number> {
  const res = await call(
    "POST",
    `/v1/caucuses/${mediator.caucusId}/events`,
    { eventId: randomUUID(), kind: "application", epoch: 0, ciphertext: randomB64(32) },
    mediator.token,
  );
  if (res.status !== 201) throw new Error(`append: ${JSON.stringify(res.body)}`);
  return (res.body as { seq: number }).seq;
}

/** `device` redeems a fresh invite of the mediator's caucus, valid for a day (throws on failure). */
export async function redeemed(
  call: Call,
  mediator: { token: string; caucusId: string },
  device: TestDevice,
  inviteKey: TestKey,
): Promise<{ inviteId: string }> {
  const inviteId = randomUUID();
  const made = await call(
    "POST",
    `/v1/caucuses/${mediator.caucusId}/invites`,
    {
      inviteId,
      invitePublicKey: inviteKey.publicKey,
      expiresAt: new Date(Date.now() + 24 * 60 * 60_000).toISOString(),
    },
    mediator.token,
  );
  if (made.status !== 201) throw new Error(`invite: ${JSON.stringify(made.body)}`);
  const keyPackage = randomB64(64);
  const res = await call("POST", `/v1/invites/${inviteId}/redeem`, {
    deviceId: device.deviceId,
    authPublicKey: device.publicKey,
    keyPackage,
    signature: inviteKey.sign(
      redeemSigningString(inviteId, device.deviceId, device.publicKey, sha256Hex(keyPackage)),
    ),
  });
  if (res.status !== 201) throw new Error(`redeem: ${JSON.stringify(res.body)}`);
  return { inviteId };
}

/** A ws client that queues frames, so a test awaits the next one instead of racing it. */
export class TestSocket {
  readonly ws: WebSocket;
  private readonly frames: ServerFrame[] = [];
  private waiting: { resolve(f: ServerFrame): void; reject(e: Error): void } | undefined;
  private closeCode: number | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on("message", (data: Buffer) => {
      const frame = parse(serverFrame, JSON.parse(data.toString("utf8")));
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w.resolve(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      this.ws.on("close", (code, reason) => {
        this.closeCode = code;
        this.waiting?.reject(new Error(`socket closed (${code}) while waiting for a frame`));
        this.waiting = undefined;
        resolve({ code, reason: reason.toString("utf8") });
      }),
    );
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
  }

  send(value: unknown): void {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** The next frame; rejects if the socket closes first or none comes within `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<ServerFrame> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closeCode !== undefined) return Promise.reject(new Error(`socket closed (${this.closeCode})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = () => clearTimeout(timer);
      this.waiting = {
        resolve: (frame) => (settle(), resolve(frame)),
        reject: (error) => (settle(), reject(error)),
      };
    });
  }
}

/** The stable code `attempt` rejects with (a BackchannelError's), "resolved" if it does not reject. */
export function rejectionCode(attempt: Promise<unknown>): Promise<string> {
  return attempt.then(
    () => "resolved",
    (e: unknown) => (e instanceof BackchannelError ? e.code : `not a BackchannelError: ${String(e)}`),
  );
}

/**
 * Polls until `check` holds, failing after `timeoutMs`: for a state another process or component
 * reaches on its own (a link going down, a log line written), with a deadline rather than a sleep.
 */
export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
