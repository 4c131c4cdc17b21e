import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { rawText, type BaselineAck, type BaselineAppend } from "./baseline-relay.js";

/** One sender's connection to the baseline relay: a request, then wait for its ack, like Party.send. */
export class BaselineClient {
  private readonly waiting = new Map<
    string,
    { resolve: (seq: number) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const ack = JSON.parse(rawText(data)) as BaselineAck | { error: string };
      if ("error" in ack) {
        // The relay cannot name the failed request once parsing failed; fail them all, loudly.
        for (const w of this.waiting.values()) w.reject(new Error(`baseline relay: ${ack.error}`));
        this.waiting.clear();
        return;
      }
      this.waiting.get(ack.id)?.resolve(ack.seq);
      this.waiting.delete(ack.id);
    });
    socket.on("close", () => {
      for (const w of this.waiting.values()) w.reject(new Error("baseline relay closed the socket"));
      this.waiting.clear();
    });
  }

  static async connect(url: string): Promise<BaselineClient> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    return new BaselineClient(socket);
  }

  /** Resolves with the seq the relay assigned, once the row is committed. */
  append(caucus: string, blob: string): Promise<number> {
    const frame: BaselineAppend = { caucus, id: randomUUID(), blob };
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(frame.id, { resolve, reject });
      this.socket.send(JSON.stringify(frame));
    });
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }
}
