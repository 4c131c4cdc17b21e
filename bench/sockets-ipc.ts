/**
 * Messages between the socket bench (bench/sockets.ts) and its client processes
 * (bench/sockets-client.ts), over Node's IPC channel. Times are `nowMs()` readings: a monotonic
 * clock shared by every process on the machine, so a receive time in a client and a send time in
 * the bench can be subtracted.
 */
export type ToClient =
  /** Open one authenticated push socket per token, `concurrency` handshakes at a time. */
  | { type: "open"; url: string; localAddress: string; tokens: string[]; concurrency: number }
  /** Send every recorded receive time, then forget them. */
  | { type: "times" }
  | { type: "close" };

export type FromClient =
  | { type: "opened"; ready: number; failed: number; firstError?: string }
  /** Every socket of this client has received the hint for `seq`. */
  | { type: "delivered"; seq: number }
  /** Receive times of each event's hint, by seq; `closed`: sockets that closed unasked. */
  | { type: "times"; bySeq: Record<number, number[]>; closed: number };
