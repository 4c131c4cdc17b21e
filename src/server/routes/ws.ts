import type { FastifyInstance } from "fastify";
import type { RawData, WebSocket } from "ws";
import { clientFrame, pushSocket, safeParse, type ServerFrame } from "../../protocol/index.js";
import { deviceForToken } from "../auth.js";
import { toHttpError } from "../errors.js";
import type { Subscriber } from "../notifier.js";
import type { RouteContext } from "./context.js";

/** Application close code for "authenticate (again)": 4000–4999 are ours to define. */
export const closeUnauthenticated = 4401;

export function registerWsRoute(app: FastifyInstance, { storage, notifier, config }: RouteContext): void {
  app.get(pushSocket.path, { websocket: true }, (socket, request) => {
    const connection = new PushConnection(socket, {
      authenticate: (token) => deviceForToken(storage, config, token),
      subscribe: (deviceId, subscriber) => notifier.subscribe(deviceId, subscriber),
      now: config.now,
      authTimeoutMs: config.wsAuthTimeoutMs,
      onError: (error) => request.log.warn({ err: error }, "websocket handler failed"),
    });
    connection.start();
  });
}

interface PushDeps {
  authenticate(token: string): Promise<{ deviceId: string; expiresAt: number; tokenHash: string }>;
  subscribe(deviceId: string, subscriber: Subscriber): () => void;
  now(): number;
  authTimeoutMs: number;
  onError(error: unknown): void;
}

/** One device's push socket: unauthenticated → authenticating → ready → closed. */
class PushConnection {
  private state: "unauthenticated" | "authenticating" | "ready" | "closed" = "unauthenticated";
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: PushDeps,
  ) {}

  start(): void {
    this.timers.push(setTimeout(() => this.close("authenticate first"), this.deps.authTimeoutMs));
    this.socket.on("message", (data, isBinary) => {
      this.handle(data, isBinary).catch((error: unknown) => {
        this.deps.onError(error);
        this.send({ type: "error", error: "internal", message: "internal error" });
      });
    });
    this.socket.on("close", () => this.dispose());
    // ws emits "error" for protocol violations (e.g. a frame over maxPayload) and then closes.
    this.socket.on("error", () => this.dispose());
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
    } catch (error) {
      const { body } = toHttpError(error);
      this.send({ type: "error", error: body.error, message: body.message });
      return this.close(body.message);
    }
    if (this.state !== "authenticating") return; // closed meanwhile
    this.state = "ready";
    this.clearTimers();
    // Logout and removal close the socket: a revoked token must not keep receiving pushes.
    this.unsubscribe = this.deps.subscribe(session.deviceId, {
      tokenHash: session.tokenHash,
      onFrame: (f) => this.send(f),
      onDisconnect: ({ error, message }) => {
        this.send({ type: "error", error, message });
        this.close(message);
      },
    });
    // setTimeout's limit is 2^31-1 ms; tokens live minutes, so clamping only matters for odd configs.
    const untilExpiry = Math.min(Math.max(session.expiresAt - this.deps.now(), 0), 2 ** 31 - 1);
    this.timers.push(setTimeout(() => this.close("token expired"), untilExpiry));
    this.send({ type: "ready", deviceId: session.deviceId });
  }

  private reject(error: string, message: string): void {
    this.send({ type: "error", error, message });
  }

  private send(frame: ServerFrame): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private close(reason: string): void {
    this.dispose();
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(closeUnauthenticated, reason);
    }
  }

  private dispose(): void {
    this.state = "closed";
    this.clearTimers();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private clearTimers(): void {
    for (const t of this.timers.splice(0)) clearTimeout(t);
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
