import { connect, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { LoggerOptions } from "../config.js";
import { createLogger } from "../logger.js";
import type { ServerFrame } from "../../protocol/index.js";
import { InProcessNotifier, type Disconnect, type Notifier, type Subscriber } from "../notifier.js";
import { decodeDisconnect, decodePush, encodeDisconnect } from "./messages.js";
import { natsUrlProblem, redactedNatsUrl } from "./nats-url.js";
import { subjects, type Subjects } from "./subjects.js";

export interface NatsNotifierOptions {
  /** The NATS server, nats://host:port. */
  url: string;
  /**
   * First token(s) of every subject (default "backchannel"). Relays that share one NATS but not
   * one storage need a prefix each, or they would push to each other's devices.
   */
  prefix?: string;
  /** Connection changes and dropped messages, as the relay logs (false: not at all). */
  logger?: false | LoggerOptions;
  /** Between reconnect attempts; default 1 s. */
  reconnectWaitMs?: number;
  /** How long a disconnect waits for NATS to confirm it before it is kept to send again; default 2 s. */
  confirmTimeoutMs?: number;
}

/** Sockets told to resync per turn of the event loop, as publishSoon does for pushes. */
const RESYNC_CHUNK = 256;

/**
 * Push fan-out between relay nodes over core NATS (bench/README.md says why not JetStream). A
 * node serves its own sockets directly and publishes for the others; its connection has `noEcho`,
 * so it never hears its own publishes. It holds one NATS subscription per device while that device
 * has a socket on it.
 *
 * Frames are hints and NATS keeps nothing, so what a link outage loses is made up for when the
 * link is back: the node tells every socket it holds to fetch from its cursor and re-checks each
 * one's session against storage (a disconnect it missed would have closed it); it sends a sync
 * frame to every device it pushed to while down; and it sends again the disconnects NATS did not
 * confirm. Storage stays the one source of truth throughout.
 */
export class NatsNotifier implements Notifier {
  private readonly local = new InProcessNotifier();
  private readonly subscriptions = new Map<string, Subscription>();
  /** Devices pushed to while the link was down: each gets a sync frame once it is back. */
  private readonly missed = new Set<string>();
  /** Disconnects NATS did not confirm: sent again once the link is back. */
  private unconfirmed: Disconnect[] = [];
  private linkUp = true;
  private closing = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly log: Pick<Logger, "info" | "warn" | "error"> | undefined,
    private readonly confirmTimeoutMs: number,
  ) {
    void this.watchStatus();
    void nc.closed().then((error) => {
      if (!this.closing)
        this.log?.error({ err: error }, "NATS connection closed: pushes no longer reach other relay nodes");
    });
  }

  /** Connects, or fails with an error naming the server. */
  static async open(options: NatsNotifierOptions): Promise<NatsNotifier> {
    const problem = natsUrlProblem(options.url);
    if (problem) throw new Error(`NATS URL: ${problem}`);
    const names = subjects(options.prefix);
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.url,
        noEcho: true,
        name: `backchannel-relay-${process.pid}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectWaitMs ?? 1000,
        timeout: 5000,
        // A link that died without a FIN is noticed in about 20 s instead of nats's default 4 min.
        pingInterval: 10_000,
        maxPingOut: 2,
      });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot reach NATS at ${redactedNatsUrl(options.url)}: ${why}`, { cause: error });
    }
    const log = options.logger === false ? undefined : createLogger(options.logger).child({ part: "nats" });
    return new NatsNotifier(nc, names, log, options.confirmTimeoutMs ?? 2000);
  }

  /** Whether the link to NATS is up (false from a drop until the node has caught up). */
  get online(): boolean {
    return this.linkUp;
  }

  /** How many devices this node holds a NATS subscription for. */
  get subscribedDevices(): number {
    return this.subscriptions.size;
  }

  /** Resolves once NATS has every subscription and publish this node made so far. */
  settled(): Promise<void> {
    return this.confirmed();
  }

  async publish(deviceId: string, frame: ServerFrame): Promise<void> {
    const subject = this.subjects.of("push", deviceId);
    await this.local.publish(deviceId, frame);
    if (this.closing) return;
    // Published while down, a frame would be dropped with the client's buffer on reconnect.
    if (this.linkUp) this.nc.publish(subject, JSON.stringify(frame));
    else this.missed.add(deviceId);
  }

  subscribe(deviceId: string, subscriber: Subscriber): () => void {
    const subject = this.subjects.device(deviceId);
    const unsubscribe = this.local.subscribe(deviceId, subscriber);
    if (!this.subscriptions.has(deviceId))
      this.subscriptions.set(
        deviceId,
        this.nc.subscribe(subject, { callback: (error, msg) => this.receive(deviceId, error, msg) }),
      );
    return () => {
      unsubscribe();
      if (this.local.has(deviceId)) return;
      this.subscriptions.get(deviceId)?.unsubscribe();
      this.subscriptions.delete(deviceId);
    };
  }

  /**
   * Closes the sockets here, then on every other node. Resolves once NATS has the disconnect (a
   * flush answered) or it is kept to send again when the link is back.
   */
  async disconnect(reason: Disconnect): Promise<void> {
    const subject = this.subjects.of("disconnect", reason.deviceId);
    await this.local.disconnect(reason);
    if (this.closing) return;
    if (!this.linkUp) {
      this.unconfirmed.push(reason);
      return;
    }
    this.nc.publish(subject, encodeDisconnect(reason));
    try {
      await this.confirmed();
    } catch (error) {
      this.unconfirmed.push(reason);
      this.log?.warn(
        { err: error },
        "NATS did not confirm a disconnect: it is sent again when the link is back",
      );
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.local.close();
    // What was published is sent before the connection goes, if the link allows.
    if (this.linkUp) await this.confirmed().catch(() => undefined);
    await this.nc.close();
  }

  /** Resolves when the server has processed everything published before. */
  private async confirmed(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("NATS flush timed out")), this.confirmTimeoutMs);
    });
    try {
      await Promise.race([this.nc.flush(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private receive(deviceId: string, error: Error | null, msg: Msg): void {
    if (error) {
      this.log?.warn({ err: error, deviceId }, "NATS subscription error");
      return;
    }
    const kind = this.subjects.kindOf(msg.subject);
    // The in-process notifier shields each socket from the others' failures.
    if (kind === "push") {
      const frame = decodePush(msg.string());
      if (frame.ok) void this.local.publish(deviceId, frame.value);
      else this.dropped(msg.subject, frame.why);
    } else if (kind === "disconnect") {
      const reason = decodeDisconnect(msg.string(), deviceId);
      if (reason.ok) void this.local.disconnect(reason.value);
      else this.dropped(msg.subject, reason.why);
    } else this.dropped(msg.subject, "unknown subject");
  }

  private dropped(subject: string, why: string): void {
    this.log?.warn({ subject, why }, "dropped a bad message from NATS");
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === "disconnect") {
        this.linkUp = false;
        this.log?.warn({ server: status.server }, "NATS link down: pushes from other relay nodes are missed");
      } else if (status.type === "reconnect") {
        await this.caughtUp();
      }
    }
  }

  /** After a reconnect: make up for what the outage lost (see the class comment). */
  private async caughtUp(): Promise<void> {
    try {
      // The client re-subscribed on reconnect; a round trip makes sure the server has it. No
      // deadline here: a flush fails only with the link, and then the next reconnect comes back.
      await this.nc.flush();
    } catch {
      return;
    }
    this.linkUp = true;
    const unconfirmed = this.unconfirmed;
    this.unconfirmed = [];
    for (const reason of unconfirmed)
      this.nc.publish(this.subjects.of("disconnect", reason.deviceId), encodeDisconnect(reason));
    const sync = JSON.stringify({ type: "sync" } satisfies ServerFrame);
    for (const deviceId of this.missed) this.nc.publish(this.subjects.of("push", deviceId), sync);
    const subscribers = this.local.all();
    this.log?.info(
      {
        resentDisconnects: unconfirmed.length,
        syncedDevices: this.missed.size,
        localSockets: subscribers.length,
      },
      "NATS link back: catching up from storage",
    );
    this.missed.clear();
    resyncSoon(subscribers, this.log);
  }
}

/** Tells each subscriber to resync, a chunk per turn of the event loop. */
function resyncSoon(
  subscribers: readonly Subscriber[],
  log: Pick<Logger, "warn"> | undefined,
  from = 0,
): void {
  if (from >= subscribers.length) return;
  setImmediate(() => {
    for (const s of subscribers.slice(from, from + RESYNC_CHUNK)) {
      try {
        s.onResync();
      } catch (error) {
        log?.warn({ err: error }, "a push socket failed to resync");
      }
    }
    resyncSoon(subscribers, log, from + RESYNC_CHUNK);
  });
}

export const openNatsNotifier = (options: NatsNotifierOptions): Promise<NatsNotifier> =>
  NatsNotifier.open(options);
