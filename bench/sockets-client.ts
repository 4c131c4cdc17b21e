import { WebSocket, type RawData } from "ws";
import type { FromClient, ToClient } from "./sockets-ipc.js";
import { nowMs } from "./stats.js";

/**
 * One client process of the socket bench: holds thousands of push sockets from one source
 * address, authenticates each as the sdk does (an auth frame with a bearer token after open),
 * and notes when each event hint arrives. Several such processes share the load so that no
 * client process nears the per-process file-descriptor limit, and the relay's RSS is its own.
 */

const sockets: WebSocket[] = [];
let bySeq = new Map<number, number[]>();
let closedUnasked = 0;
let closing = false;

const reply = (message: FromClient): void => {
  process.send?.(message);
};

/** Frames are small JSON text; ws hands them over as one Buffer unless fragmented. */
const text = (data: RawData): string =>
  (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString(
    "utf8",
  );

function onFrame(data: RawData): void {
  const at = nowMs();
  const frame = JSON.parse(text(data)) as { type: string; seq?: number };
  if (frame.type !== "event" || frame.seq === undefined) return;
  let times = bySeq.get(frame.seq);
  if (!times) bySeq.set(frame.seq, (times = []));
  times.push(at);
  if (times.length === sockets.length) reply({ type: "delivered", seq: frame.seq });
}

/** Resolves once the socket has its `ready` frame, rejects if it fails or closes first. */
function openOne(url: string, localAddress: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress, handshakeTimeout: 60_000 });
    let ready = false;
    socket.on("open", () => socket.send(JSON.stringify({ type: "auth", token })));
    socket.on("message", (data) => {
      if (ready) return onFrame(data);
      const frame = JSON.parse(text(data)) as { type: string; message?: string };
      if (frame.type !== "ready") return reject(new Error(`auth refused: ${frame.message ?? frame.type}`));
      ready = true;
      sockets.push(socket);
      resolve();
    });
    socket.on("error", (error) => {
      if (!ready) reject(error);
    });
    socket.on("close", (code) => {
      if (!ready) reject(new Error(`closed before ready (code ${code})`));
      else if (!closing) closedUnasked++;
    });
  });
}

async function open(m: Extract<ToClient, { type: "open" }>): Promise<void> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < m.tokens.length) {
      const token = m.tokens[next++]!;
      try {
        await openOne(m.url, m.localAddress, token);
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(m.concurrency, m.tokens.length) }, worker));
  reply({
    type: "opened",
    ready: sockets.length,
    failed,
    ...(firstError !== undefined ? { firstError } : {}),
  });
}

// The bench gone (even killed) means the run is over: never outlive it holding sockets.
process.on("disconnect", () => process.exit(0));
process.on("message", (m: ToClient) => {
  if (m.type === "open") void open(m);
  else if (m.type === "times") {
    reply({ type: "times", bySeq: Object.fromEntries(bySeq), closed: closedUnasked });
    bySeq = new Map();
  } else {
    closing = true;
    for (const s of sockets) s.terminate();
    process.exit(0);
  }
});
