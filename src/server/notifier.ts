import type { ErrorCode, ServerFrame } from "../protocol/index.js";

/** Why a device's push sockets are being closed; `tokenHash` limits it to one session's sockets. */
export interface Disconnect {
  deviceId: string;
  tokenHash?: string;
  error: ErrorCode;
  message: string;
}

/** The disconnects the relay sends, each with the words a client sees when its socket closes. */
export const disconnectReasons = {
  removed: { error: "device_removed", message: "this device was removed" },
  loggedOut: { error: "unauthenticated", message: "logged out" },
} as const satisfies Record<string, Pick<Disconnect, "error" | "message">>;

/** One push socket: the session it authenticated with, where frames go, how it is closed. */
export interface Subscriber {
  tokenHash: string;
  onFrame(frame: ServerFrame): void;
  onDisconnect(reason: Disconnect): void;
  /**
   * This node may have missed frames and disconnects meant for this subscriber (its link to the
   * other nodes was down): check the session against storage, close if it is gone, else tell the
   * device to fetch from its cursor.
   */
  onResync(): void;
}

/**
 * Fan-out of push frames to devices' WebSocket connections. In-process for a single relay; a
 * multi-node deployment swaps in one backed by NATS or PostgreSQL LISTEN/NOTIFY behind the same
 * calls. Frames are hints ("fetch from your cursor"), never content, so a lost frame delays
 * delivery but loses nothing: the events themselves are in storage. A disconnect is not a hint:
 * a revoked session or a removed device must lose its sockets, so every node has to act on it.
 */
export interface Notifier {
  publish(deviceId: string, frame: ServerFrame): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(deviceId: string, subscriber: Subscriber): () => void;
  /**
   * Resolves once every subscription made so far gets what other nodes publish (NATS: the server
   * has confirmed them). Absent where subscribing takes effect at once (in-process).
   */
  settled?(): Promise<void>;
  /** Closes the device's sockets (those of one session, with `tokenHash`). */
  disconnect(reason: Disconnect): Promise<void>;
  close(): Promise<void>;
  /** Whether the link to the other nodes is up (NATS); absent where there is no link (in-process). */
  readonly online?: boolean;
}

export class InProcessNotifier implements Notifier {
  private readonly subscribers = new Map<string, Set<Subscriber>>();

  publish(deviceId: string, frame: ServerFrame): Promise<void> {
    for (const s of this.subscribers.get(deviceId) ?? []) {
      try {
        s.onFrame(frame);
      } catch {
        // One broken connection must not stop delivery to the others.
      }
    }
    return Promise.resolve();
  }

  subscribe(deviceId: string, subscriber: Subscriber): () => void {
    let set = this.subscribers.get(deviceId);
    if (!set) {
      set = new Set();
      this.subscribers.set(deviceId, set);
    }
    set.add(subscriber);
    return () => {
      const current = this.subscribers.get(deviceId);
      current?.delete(subscriber);
      if (current?.size === 0) this.subscribers.delete(deviceId);
    };
  }

  disconnect(reason: Disconnect): Promise<void> {
    for (const s of [...(this.subscribers.get(reason.deviceId) ?? [])]) {
      if (reason.tokenHash !== undefined && s.tokenHash !== reason.tokenHash) continue;
      try {
        s.onDisconnect(reason);
      } catch {
        // Closing one socket must not stop closing the others.
      }
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.subscribers.clear();
    return Promise.resolve();
  }

  /** Whether any subscriber of the device is on this node. */
  has(deviceId: string): boolean {
    return this.subscribers.has(deviceId);
  }

  /** Every subscriber on this node, for a resync. */
  all(): Subscriber[] {
    return [...this.subscribers.values()].flatMap((set) => [...set]);
  }
}
