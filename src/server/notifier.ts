import type { ServerFrame } from "../protocol/index.js";

/**
 * Fan-out of push frames to devices' WebSocket connections. In-process for a single relay; a
 * multi-node deployment swaps in one backed by NATS or PostgreSQL LISTEN/NOTIFY behind the same
 * three calls. Frames are hints ("fetch from your cursor"), never content, so a lost frame delays
 * delivery but loses nothing: the events themselves are in storage.
 */
export interface Notifier {
  publish(deviceId: string, frame: ServerFrame): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(deviceId: string, onFrame: (frame: ServerFrame) => void): () => void;
  close(): Promise<void>;
}

export class InProcessNotifier implements Notifier {
  private readonly listeners = new Map<string, Set<(frame: ServerFrame) => void>>();

  publish(deviceId: string, frame: ServerFrame): Promise<void> {
    for (const listener of this.listeners.get(deviceId) ?? []) {
      try {
        listener(frame);
      } catch {
        // One broken connection must not stop delivery to the others.
      }
    }
    return Promise.resolve();
  }

  subscribe(deviceId: string, onFrame: (frame: ServerFrame) => void): () => void {
    let set = this.listeners.get(deviceId);
    if (!set) {
      set = new Set();
      this.listeners.set(deviceId, set);
    }
    set.add(onFrame);
    return () => {
      const current = this.listeners.get(deviceId);
      current?.delete(onFrame);
      if (current?.size === 0) this.listeners.delete(deviceId);
    };
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
