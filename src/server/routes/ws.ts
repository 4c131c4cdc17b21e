import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from "fastify";
import type { RawData, WebSocket } from "ws";
import { clientFrame, pushSocket, safeParse, type ServerFrame } from "../../protocol/index.js";
import { deviceForToken } from "../auth.js";
import { toHttpError } from "../errors.js";
import { detachResponse } from "../raw-refusal.js";
import { disconnectReasons, type Disconnect, type Notifier, type Subscriber } from "../notifier.js";
import type { Storage } from "../storage/storage.js";
import type { RouteContext } from "./context.js";
import { answerHandshakeErrors, requireUpgrade } from "./ws-handshake.js";

/** Application close code for "authenticate (again)": 4000–4999 are ours to define. */
export const closeUnauthenticated = 4401;
/** Application close code for a socket refused by a limit (its error frame says which). */
export const closeRateLimited = 4429;

/**
 * What every push connection needs, made once per relay. A relay holds tens of thousands of idle
 * sockets, so nothing here may be a per-connection closure over the upgrade request: that would
 * keep the request, its reply, headers and logger alive for as long as the socket lives.
 */
interface PushDeps {
  authenticate(token: string): Promise<{ deviceId: string; expiresAt: number; tokenHash: string }>;
  /** Holds one of the device's sockets (limits.socketsPerDevice) until the release is called. */
  holdSocket(deviceId: string): () => void;
  /** Why an authenticated session no longer holds (as its disconnect would say), or undefined. */
  revoked(deviceId: string, tokenHash: string): Promise<Pick<Disconnect, "error" | "message"> | undefined>;
  notifier: Pick<Notifier, "subscribe" | "settled">;
  now(): number;
  authTimeoutMs: number;
  log: FastifyBaseLogger;
}

export function registerWsRoute(
  app: FastifyInstance,
  { storage, notifier, config, limits }: RouteContext,
): void {
  const deps: PushDeps = {
    // A socket's login is one of the device's requests (so is reconnecting in a loop).
    authenticate: async (token) => {
      const session = await deviceForToken(storage, config, token);
      await limits.device(session.deviceId);
      return session;
    },
    holdSocket: (deviceId) => limits.openSocket(deviceId),
    revoked: (deviceId, tokenHash) => revokedReason(storage, deviceId, tokenHash),
    notifier,
    now: config.now,
    authTimeoutMs: config.wsAuthTimeoutMs,
    log: app.log,
  };
  answerHandshakeErrors(app.websocketServer);
  app.route({
    method: "GET",
    url: pushSocket.path,
    handler: requireUpgrade,
    wsHandler: (socket, request) => {
      const requestId = request.id;
      releaseUpgrade(socket, request);
      new PushConnection(socket, deps, requestId).start();
    },
  });
}

/**
 * Lets the HTTP upgrade's objects go once the socket is a WebSocket. Two things would otherwise
 * hold them (about 3.5 KiB a socket, half of what an idle push socket costs): the response the upgrade was
 * routed with stays attached to the TCP socket, and @fastify/websocket's own "error" listener
 * closes over the request and reply. PushConnection takes over what that listener did (log, then
 * terminate).
 */
function releaseUpgrade(socket: WebSocket, request: FastifyRequest): void {
  socket.removeAllListeners("error");
  if (request.raw.socket) detachResponse(request.raw.socket);
}

/** One device's push socket: unauthenticated → authenticating → subscribing → ready → closed. */
class PushConnection implements Subscriber {
  private state: "unauthenticated" | "authenticating" | "subscribing" | "ready" | "closed" =
    "unauthenticated";
  /** The auth deadline, then the token's expiry: one timer at a time. */
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private release: (() => void) | undefined;
  tokenHash = "";
  private deviceId = "";

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: PushDeps,
    private readonly requestId: string,
  ) {}

  start(): void {
    this.timer = setTimeout(() => this.close("authenticate first"), this.deps.authTimeoutMs);
    this.socket.on("message", (data, isBinary) => {
      this.handle(data, isBinary).catch((error: unknown) => {
        this.deps.log.warn({ reqId: this.requestId, err: error }, "websocket handler failed");
        this.send({ type: "error", error: "internal", message: "internal error" });
      });
    });
    this.socket.on("close", () => this.dispose());
    // ws emits "error" for a frame that breaks the protocol (bad UTF-8, unknown opcode, unmasked,
    // over maxPayload, bad close code), once per socket, as it sends the close frame that says why
    // (1002, 1007, 1009); it then closes the socket itself. Any client can send such frames at
    // will, so this is one warn line per connection, and no stack: the stack would only point into
    // ws's parser.
    this.socket.on("error", (error: Error & { code?: string }) => {
      this.deps.log.warn(
        { reqId: this.requestId, code: error.code, reason: error.message },
        "bad websocket frame",
      );
      this.dispose();
    });
  }

  /**
   * Subscriber: a push for this device. Not before `ready`: the device fetches from its cursor
   * once it is ready, which covers whatever a frame before then was about.
   */
  onFrame(frame: ServerFrame): void {
    if (this.state === "ready") this.send(frame);
  }

  /** Subscriber: logout or removal; a revoked token must not keep receiving pushes. */
  onDisconnect({ error, message }: Pick<Disconnect, "error" | "message">): void {
    this.send({ type: "error", error, message });
    this.close(message);
  }

  /** Subscriber: this node may have missed a push or a disconnect meant for this socket. */
  onResync(): void {
    if (this.state !== "ready") return;
    this.deps.revoked(this.deviceId, this.tokenHash).then(
      (reason) => {
        if (this.state !== "ready") return;
        if (reason) this.onDisconnect(reason);
        else this.send({ type: "sync" });
      },
      (error: unknown) => {
        // Fetching authenticates afresh, so a device told to fetch on a dead session learns of it.
        this.deps.log.warn({ reqId: this.requestId, err: error }, "re-checking a push session failed");
        this.send({ type: "sync" });
      },
    );
  }

  private async handle(data: RawData, isBinary: boolean): Promise<void> {
    if (this.state === "closed") return;
    if (isBinary) return this.reject("invalid_request", "frames must be JSON text");
    let json: unknown;
    try {
      json = JSON.parse(rawText(data));
    } catch {
      return this.reject("invalid_json", "frame is not valid JSON");
    }
    const parsed = safeParse(clientFrame, json, "frame");
    if (!parsed.ok) return this.reject("invalid_request", parsed.error.message);
    const frame = parsed.value;
    if (frame.type === "ping") return this.send({ type: "pong" });

    if (this.state !== "unauthenticated") return this.reject("invalid_request", "already authenticated");
    this.state = "authenticating";
    let session: { deviceId: string; expiresAt: number; tokenHash: string };
    try {
      session = await this.deps.authenticate(frame.token);
      if (this.state !== "authenticating") return; // closed meanwhile
      this.release = this.deps.holdSocket(session.deviceId);
    } catch (error) {
      const { body } = toHttpError(error);
      this.send({ type: "error", error: body.error, message: body.message });
      return this.close(
        body.message,
        body.error === "rate_limited" ? closeRateLimited : closeUnauthenticated,
      );
    }
    this.state = "subscribing";
    clearTimeout(this.timer);
    this.tokenHash = session.tokenHash;
    this.deviceId = session.deviceId;
    this.unsubscribe = this.deps.notifier.subscribe(session.deviceId, this);
    // A logout or removal on another node between the session check above and the subscription
    // reaching every node would go unseen: wait until the subscription holds, then look again.
    // If NATS cannot confirm it now, the node resyncs every socket once its link is back.
    await this.deps.notifier.settled?.().catch(() => undefined);
    const revoked = await this.deps.revoked(session.deviceId, session.tokenHash);
    if (this.state !== "subscribing") return; // closed meanwhile (a disconnect got here first)
    if (revoked) return this.onDisconnect(revoked);
    this.state = "ready";
    // setTimeout's limit is 2^31-1 ms; tokens live minutes, so clamping only matters for odd configs.
    const untilExpiry = Math.min(Math.max(session.expiresAt - this.deps.now(), 0), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.close("token expired"), untilExpiry);
    this.send({ type: "ready", deviceId: session.deviceId });
  }

  private reject(error: string, message: string): void {
    this.send({ type: "error", error, message });
  }

  private send(frame: ServerFrame): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private close(reason: string, code = closeUnauthenticated): void {
    this.dispose();
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  private dispose(): void {
    this.state = "closed";
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.release?.();
    this.release = undefined;
  }
}

/** A session a disconnect would have ended: its device removed, or the session itself gone. */
async function revokedReason(
  storage: Storage,
  deviceId: string,
  tokenHash: string,
): Promise<Pick<Disconnect, "error" | "message"> | undefined> {
  // One query while the session holds (every socket's connect and resync asks this).
  const found = await storage.getSessionDevice(tokenHash);
  const own = found?.session.deviceId === deviceId ? found : undefined;
  if (own?.device && !own.device.removed) return undefined;
  const device = own ? own.device : await storage.getDevice(deviceId);
  if (!device || device.removed) return disconnectReasons.removed;
  return disconnectReasons.loggedOut;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
