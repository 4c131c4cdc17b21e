import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";

/**
 * A hostile relay for tests: a proxy between devices and a real relay that can rewrite, drop,
 * delay, withhold and fail answers. Devices talk to `url` as if it were the relay; each request is
 * offered to the rules in order, and the first that returns a verdict decides; without one it
 * passes through unchanged. The WebSocket upgrade is piped through (or refused: `blockSockets`).
 */
export interface ProxiedRequest {
  method: string;
  /** Path and query, as the device sent it. */
  path: string;
  body: unknown;
}

export interface RelayAnswer {
  status: number;
  body: unknown;
}

export type Verdict =
  /** Answer in the relay's place; the real relay never sees the request. */
  | { respond: RelayAnswer }
  /** Cut the connection before anything reaches the relay (a network fault). */
  | { drop: true }
  /** Let the relay handle it, then cut the connection instead of answering (the request landed). */
  | { dropAnswer: true }
  /** Let the relay handle it, then change its answer. */
  | { rewrite: (answer: RelayAnswer) => RelayAnswer }
  /** Hold the request this long, then pass it on. */
  | { delayMs: number };

export type Rule = (req: ProxiedRequest) => Verdict | undefined;

export interface HostileRelay {
  url: string;
  /** Added rules are consulted in order; `remove()` takes one back. */
  rule(rule: Rule): { remove(): void };
  /** Forget every rule: the relay is honest again. */
  heal(): void;
  /** Refuse WebSocket upgrades (no pushes reach the device). */
  blockSockets: boolean;
  /** Every request seen, with what was answered. */
  log: { method: string; path: string; status: number | "dropped" }[];
  close(): Promise<void>;
}

export async function startHostileRelay(target: string): Promise<HostileRelay> {
  const upstream = new URL(target);
  const rules: Rule[] = [];
  const log: HostileRelay["log"] = [];
  const state = { blockSockets: false };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString("utf8")) : undefined;
    } catch {
      body = raw.toString("utf8");
    }
    let verdict: Verdict | undefined;
    for (const r of [...rules]) if ((verdict = r({ method, path, body }))) break;
    if (verdict && "drop" in verdict) {
      log.push({ method, path, status: "dropped" });
      req.socket.destroy();
      return;
    }
    if (verdict && "delayMs" in verdict) await new Promise((r) => setTimeout(r, verdict.delayMs));
    let answer: RelayAnswer;
    if (verdict && "respond" in verdict) answer = verdict.respond;
    else {
      const headers: Record<string, string> = {};
      for (const h of ["authorization", "content-type"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const r = await fetch(new URL(path, upstream), {
        method,
        headers,
        ...(raw.length ? { body: raw } : {}),
      });
      const text = await r.text();
      answer = { status: r.status, body: text ? (JSON.parse(text) as unknown) : undefined };
      if (verdict && "dropAnswer" in verdict) {
        log.push({ method, path, status: "dropped" });
        req.socket.destroy();
        return;
      }
      if (verdict && "rewrite" in verdict) answer = verdict.rewrite(answer);
    }
    log.push({ method, path, status: answer.status });
    res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8" });
    res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on("upgrade", (req, socket, head) => {
    if (state.blockSockets) return socket.destroy();
    const up = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        lines.push(`${name}: ${name.toLowerCase() === "host" ? upstream.host : req.rawHeaders[i + 1]}`);
      }
      up.write(`${lines.join("\r\n")}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("hostile relay did not bind");

  return {
    url: `http://127.0.0.1:${address.port}`,
    rule(rule) {
      rules.push(rule);
      return {
        remove() {
          const i = rules.indexOf(rule);
          if (i >= 0) rules.splice(i, 1);
        },
      };
    },
    heal() {
      rules.length = 0;
      state.blockSockets = false;
    },
    get blockSockets() {
      return state.blockSockets;
    },
    set blockSockets(v: boolean) {
      state.blockSockets = v;
    },
    log,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Matches one HTTP operation by method and a path pattern (query ignored). */
export const on =
  (method: string, path: RegExp, verdict: (req: ProxiedRequest) => Verdict | undefined): Rule =>
  (req) =>
    req.method === method && path.test(req.path.split("?")[0]!) ? verdict(req) : undefined;
