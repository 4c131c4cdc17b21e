/**
 * Test-only helpers for the NATS fan-out: where the test NATS server is, a raw connection to it,
 * a subject prefix per test (so test files running side by side on one server never hear each
 * other), and a TCP proxy that a test cuts to make a node lose its link.
 */
import { randomUUID } from "node:crypto";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The NATS server with JetStream the tests talk to (the machine runs one at 127.0.0.1:4222). */
export const testNatsUrl = process.env.BACKCHANNEL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A plain connection to the test server; fails, never skips, when there is none. */
export async function connectTestNats(): Promise<NatsConnection> {
  try {
    return await connect({ servers: testNatsUrl, timeout: 3000 });
  } catch (error) {
    throw new Error(
      `these tests need a NATS server at ${testNatsUrl} (set BACKCHANNEL_TEST_NATS_URL for another): ${String(error)}`,
      { cause: error },
    );
  }
}

export const testPrefix = (): string => `backchannel-test.${randomUUID()}`;

/** Forwards TCP to the test NATS server until cut; while cut, it refuses (closes) every connection. */
export interface TcpProxy {
  /** nats://127.0.0.1:<port> of the proxy. */
  url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target = testNatsUrl): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = tcpConnect({ host: hostname, port: Number(port) || 4222 });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("proxy has no address");
  return {
    url: `nats://127.0.0.1:${address.port}`,
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Values pushed by callbacks, awaited one at a time by a test, each wait with a deadline. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private waiting: ((item: T) => void) | undefined;

  push(item: T): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w(item);
    else this.items.push(item);
  }

  /** What has arrived and not been taken. */
  get pending(): readonly T[] {
    return this.items;
  }

  next(what: string, timeoutMs = 5000): Promise<T> {
    const queued = this.items.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`nothing arrived within ${timeoutMs} ms: expected ${what}`));
      }, timeoutMs);
      this.waiting = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
    });
  }
}
