import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { WebSocketServer, type RawData } from "ws";

/**
 * The least a durable relay can do: one WebSocket, one table, one fsync'd transaction per message,
 * one ack. No auth, no validation beyond shape, no hash chain, no fan-out. It stores with the same
 * durability as Backchannel's relay (WAL, synchronous=FULL), so the gap between the two is the
 * cost of everything else, not of a cheaper disk contract.
 */
export interface BaselineRelay {
  /** ws://127.0.0.1:port */
  url: string;
  close(): Promise<void>;
}

/** One client frame: the same fields Backchannel's append carries, the blob base64url as on its wire. */
export interface BaselineAppend {
  caucus: string;
  id: string;
  blob: string;
}

export interface BaselineAck {
  id: string;
  seq: number;
}

export async function startBaselineRelay(dataDir: string): Promise<BaselineRelay> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, "baseline.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE IF NOT EXISTS events (
    caucus TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (caucus, seq),
    UNIQUE (caucus, id)
  )`);
  // The next seq is read inside the insert, so the statement is its own transaction: one commit,
  // one fsync per message, as in Backchannel's append.
  const append = db.prepare<[string, string, Buffer, string], { seq: number }>(
    `INSERT INTO events (caucus, seq, id, blob)
     SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM events WHERE caucus = ?
     RETURNING seq`,
  );

  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  wss.on("connection", (socket) => {
    socket.on("message", (data: RawData) => {
      let ack: BaselineAck | { error: string };
      try {
        const m = JSON.parse(rawText(data)) as Partial<BaselineAppend>;
        if (typeof m.caucus !== "string" || typeof m.id !== "string" || typeof m.blob !== "string")
          throw new Error("bad frame");
        const row = append.get(m.caucus, m.id, Buffer.from(m.blob, "base64url"), m.caucus)!;
        ack = { id: m.id, seq: row.seq };
      } catch (e) {
        ack = { error: (e as Error).message };
      }
      socket.send(JSON.stringify(ack));
    });
  });

  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve, reject) => wss.close((e) => (e ? reject(e) : resolve())));
      db.close();
    },
  };
}

export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  return Buffer.from(data).toString("utf8");
}
