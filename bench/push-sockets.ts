import { WebSocket } from "ws";
import { pushSocket } from "../src/protocol/index.js";

/**
 * Authenticated push sockets (`/v1/ws`, an auth frame with the device's bearer token, then the
 * relay's `ready`) that only count the event hints they receive: a device would fetch on each,
 * which is not what the nodes bench measures.
 */
export class PushSockets {
  private readonly sockets: WebSocket[] = [];
  /** Event frames received on all sockets so far. */
  events = 0;
  /** Sockets that closed without being asked to. */
  dropped = 0;
  private closing = false;

  /** Opens a socket to the relay at `relayUrl` as the device whose token this is; resolves on `ready`. */
  open(relayUrl: string, token: string): Promise<void> {
    const url = new URL(pushSocket.path, relayUrl);
    url.protocol = "ws:";
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      let ready = false;
      socket.on("open", () => socket.send(JSON.stringify({ type: "auth", token })));
      socket.on("message", (data: Buffer) => {
        const frame = JSON.parse(data.toString("utf8")) as { type: string; message?: string };
        if (ready) {
          if (frame.type === "event") this.events++;
          return;
        }
        if (frame.type !== "ready") return reject(new Error(`auth refused: ${frame.message ?? frame.type}`));
        ready = true;
        this.sockets.push(socket);
        resolve();
      });
      socket.on("error", (error) => {
        if (!ready) reject(error);
      });
      socket.on("close", (code) => {
        if (!ready) reject(new Error(`closed before ready (code ${code})`));
        else if (!this.closing) this.dropped++;
      });
    });
  }

  /** Resolves once `events` frames have arrived, or after `timeoutMs` (the caller reads the count). */
  async waitFor(events: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.events < events && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.closing = true;
    for (const s of this.sockets) s.terminate();
  }
}
