import { parse, pushSocket, serverFrame, type TranscriptProblem } from "../protocol/index.js";
import type { Device } from "./device.js";
import type { TranscriptEntry } from "./device-state.js";
import { ApiError } from "./errors.js";

interface MinimalSocket {
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: (() => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(): void;
}

async function socketClass(): Promise<new (url: string) => MinimalSocket> {
  const native = (globalThis as { WebSocket?: new (url: string) => MinimalSocket }).WebSocket;
  if (native) return native;
  const ws = await import("ws");
  return ws.WebSocket as unknown as new (url: string) => MinimalSocket;
}

/** How often a watching device syncs without being told to (well inside the heartbeat period). */
const livenessSyncEveryMs = 60_000;

export interface WatchHandle {
  stop(): void;
  /** Resolves when stopped. */
  done: Promise<void>;
}

/**
 * Live updates: a WebSocket tells the device that a caucus has new events; the device then syncs
 * from its own cursor, so nothing is missed or doubled across reconnects. Reconnects with backoff.
 */
export async function watch(
  device: Device,
  onEntries: (caucusId: string, added: TranscriptEntry[]) => void,
  onStatus: (status: "connected" | "reconnecting") => void = () => {},
  /**
   * A caucus's transcript problem or removal appeared (or changed). A sync that finds a gap or an
   * altered event usually adds no entries, so onEntries alone would never tell the caller.
   */
  onProblem: (caucusId: string, problem: TranscriptProblem | undefined, removed: boolean) => void = () => {},
): Promise<WatchHandle> {
  const Socket = await socketClass();
  let stopped = false;
  let socket: MinimalSocket | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  // Report by cursor, not by what this sync returned: another caller (sync, verify) or a sync that
  // failed halfway may already have applied entries, and they must still be reported, once.
  const reported = new Map(device.caucusIds().map((id) => [id, device.caucus(id).head.seq]));
  const trouble = (id: string) =>
    JSON.stringify([device.caucus(id).problem ?? null, device.caucus(id).removed]);
  const troubleReported = new Map(device.caucusIds().map((id) => [id, trouble(id)]));
  const syncAndReport = async () => {
    try {
      await device.sync();
    } finally {
      for (const caucusId of device.caucusIds()) {
        const from = reported.get(caucusId) ?? 0;
        const added = device.entries(caucusId).filter((e) => e.seq > from);
        if (!added.length) continue;
        reported.set(caucusId, added[added.length - 1]!.seq);
        onEntries(caucusId, added);
      }
      for (const caucusId of device.caucusIds()) {
        const now = trouble(caucusId);
        if (now === (troubleReported.get(caucusId) ?? JSON.stringify([null, false]))) continue;
        troubleReported.set(caucusId, now);
        const record = device.caucus(caucusId);
        onProblem(caucusId, record.problem, record.removed);
      }
    }
  };
  let backoff = 250;
  const connect = async (): Promise<void> => {
    if (stopped) return;
    try {
      const token = await device.session.getToken();
      const url = new URL(pushSocket.path, device.serverUrl);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      socket = new Socket(url.toString());
      socket.onopen = () => socket?.send(JSON.stringify({ type: "auth", token }));
      socket.onmessage = (ev) => {
        let frame;
        try {
          frame = parse(serverFrame, JSON.parse(String(ev.data)), "server frame");
        } catch {
          return;
        }
        if (frame.type === "ready") {
          backoff = 250;
          onStatus("connected");
        }
        // "sync": the relay node may have missed pushes while its link to the others was down.
        if (
          frame.type === "ready" ||
          frame.type === "event" ||
          frame.type === "membership" ||
          frame.type === "sync"
        )
          void syncAndReport().catch(() => undefined);
      };
      socket.onclose = () => {
        if (stopped) return resolveDone();
        onStatus("reconnecting");
        setTimeout(() => void connect(), backoff);
        backoff = Math.min(backoff * 2, 10_000);
      };
      socket.onerror = () => undefined;
    } catch (e) {
      // A removed device can never log in again: report its caucuses as removed, then stop —
      // once the mediator's signed word says so; on the relay's word alone, keep trying.
      if (e instanceof ApiError && e.code === "device_removed") {
        await syncAndReport().catch(() => undefined);
        if (device.caucusIds().every((id) => device.caucus(id).removed)) {
          stopped = true;
          resolveDone();
          return;
        }
      }
      onStatus("reconnecting");
      setTimeout(() => void connect(), backoff);
      backoff = Math.min(backoff * 2, 10_000);
    }
  };
  await connect();
  // Silence is information too (core/liveness.ts): a mediator device posts its heartbeats, and
  // every device notices a caucus gone quiet, only when it syncs, so sync now and then even when
  // no push arrives.
  const tick = setInterval(() => {
    if (!stopped) void syncAndReport().catch(() => undefined);
  }, livenessSyncEveryMs);
  (tick as { unref?: () => void }).unref?.();
  void done.then(() => clearInterval(tick));
  return {
    stop() {
      stopped = true;
      clearInterval(tick);
      socket?.close();
      resolveDone();
    },
    done,
  };
}
