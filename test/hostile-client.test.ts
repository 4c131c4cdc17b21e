import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { defaultLimits, limitsEnv } from "../src/server/limits/limits-config.js";
import type { RunningServer } from "../src/server/start-server.js";
import {
  fetchCall,
  login,
  newDevice,
  randomB64,
  type Call,
  type TestDevice,
} from "../src/server/test-helpers.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";
import { startRelayNode, type RelayNode } from "./helpers/services.js";

/**
 * A hostile client against a relay with a public relay's default limits (issue 10), bounded so
 * that the suite stays fast: thousands of requests, hundreds of sockets, slow bodies, a login
 * guesser, junk ciphertext and greedy fetches, each from an address of its own (the relay trusts
 * the loopback proxy's X-Forwarded-For, as behind nginx). Meanwhile and afterwards a legitimate
 * channel on the same relay syncs, sends and verifies, and the relay's resident memory stays
 * bounded. The relay runs as its own process (`backchannel serve`), so its RSS is its alone.
 */

const flooder = "203.0.113.1";
const guesser = "203.0.113.2";
const socketer = "203.0.113.3";
const slowpoke = "203.0.113.4";
const junker = "203.0.113.5";

/** Resident memory of a process, MiB. */
const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

/** fetch as a client behind the proxy at `ip`: `Call`s, and `raw` for what a Call does not show. */
function callFrom(
  baseUrl: string,
  ip: string,
): Call & { raw: (path: string, init?: RequestInit) => Promise<Response> } {
  const raw = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(`${baseUrl}${path}`, {
      ...init,
      headers: { ...(init?.headers as Record<string, string>), "x-forwarded-for": ip },
    });
  return Object.assign(fetchCall(baseUrl, { "x-forwarded-for": ip }), { raw });
}

/** Runs `n` tasks, `parallel` at a time. */
async function pool<T>(n: number, parallel: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

const tally = (statuses: readonly number[]): Record<number, number> => {
  const t: Record<number, number> = {};
  for (const s of statuses) t[s] = (t[s] ?? 0) + 1;
  return t;
};

describe("a hostile client against a relay with the public defaults", () => {
  let dataDir: string;
  let relay: RelayNode;
  let net: TestNetwork;
  let maxRss = 0;
  let sampler: NodeJS.Timeout;
  const held: (Socket | WebSocket)[] = [];

  /** The legitimate channel still works: a party sends, the mediator gets it, every device verifies. */
  async function legitimateRoundTrip(text: string): Promise<void> {
    const party = net.handlers.A![0]!;
    const sent = await party.send({ text });
    await net.mediator.sync();
    const got = net.mediator.caucus(net.caucus.A!).entries.find((e) => e.eventId === sent.eventId);
    expect(got).toBeDefined();
    for (const device of [net.mediator, party, net.handlers.B![0]!])
      for (const report of await device.verify()) expect(report).toMatchObject({ ok: true });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backchannel-hostile-client-"));
    relay = await startRelayNode({
      BACKCHANNEL_DATA_DIR: dataDir,
      BACKCHANNEL_TRUST_PROXY: "127.0.0.1",
      // The public defaults, not the suite's load-test limits (vitest.config.ts).
      ...limitsEnv(defaultLimits),
    });
    sampler = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, rssMiB(relay.pid()!));
      } catch {
        // between a kill and the next start
      }
    }, 50);
    const server = {
      url: relay.url,
      port: relay.port,
      dataDir,
      close: async () => {},
    } as RunningServer;
    net = await startNetwork({ parties: ["A", "B"], topic: "hostile client", server });
    await legitimateRoundTrip("Before anything hostile.");
  });

  afterAll(async () => {
    clearInterval(sampler);
    for (const h of held) {
      if (h instanceof WebSocket) h.terminate();
      else h.destroy();
    }
    await net?.close();
    await relay?.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  });

  it("a flood of 3,000 requests from one address meets 429 with retry_after, never a 5xx", async () => {
    const from = callFrom(relay.url, flooder);
    const paths = ["/healthz", `/v1/caucuses/${randomUUID()}/events?after=0`, "/v1/me", "/nowhere"];
    const results = await pool(3_000, 32, async (i) => {
      const res = await from.raw(paths[i % paths.length]!, { headers: { authorization: "Bearer x" } });
      const body = (await res.json().catch(() => undefined)) as
        { error?: string; retry_after?: number } | undefined;
      return { status: res.status, body, retryAfter: res.headers.get("retry-after") };
    });
    const counts = tally(results.map((r) => r.status));
    expect(Object.keys(counts).filter((s) => Number(s) >= 500)).toEqual([]);
    // 600 a minute per address: the rest are refused.
    expect(counts[429] ?? 0).toBeGreaterThanOrEqual(3_000 - defaultLimits.requestsPerIp.points);
    for (const r of results.filter((x) => x.status === 429)) {
      expect(r.body).toMatchObject({ error: "rate_limited" });
      expect(r.body!.retry_after).toBeGreaterThan(0);
      expect(Number(r.retryAfter)).toBe(r.body!.retry_after);
    }
    await legitimateRoundTrip("During a flood from elsewhere.");
  });

  it("a login guesser is stopped after a few tries, and the device it aimed at still logs in", async () => {
    const from = callFrom(relay.url, guesser);
    const victim: TestDevice = newDevice();
    const reg = await from("POST", "/v1/mediators", {
      deviceId: victim.deviceId,
      authPublicKey: victim.publicKey,
    });
    expect(reg.status).toBe(201);
    const statuses = await pool(200, 8, async () => {
      const challenge = await from("POST", "/v1/auth/challenge", { deviceId: victim.deviceId });
      if (challenge.status !== 200) return challenge.status;
      const { nonce } = challenge.body as { nonce: string };
      const wrong = newDevice().sign(`guess ${nonce}`);
      const session = await from("POST", "/v1/auth/session", {
        deviceId: victim.deviceId,
        nonce,
        signature: wrong,
      });
      return session.status;
    });
    const counts = tally(statuses);
    expect(counts[200] ?? 0).toBe(0);
    // 10 failures per 15 minutes: the other ~190 tries were refused before any signature was checked.
    expect(counts[429] ?? 0).toBeGreaterThanOrEqual(180);
    // The device itself, from its own address, is not locked out.
    const token = await login(callFrom(relay.url, "198.51.100.9"), victim);
    expect(token).toMatch(/\S+/);
  });

  it("hundreds of sockets: unauthenticated ones hold nothing up, one device gets at most its share", async () => {
    const wsUrl = relay.url.replace(/^http/, "ws") + "/v1/ws";
    // 300 sockets that never authenticate (the relay closes them after its auth timeout).
    const opened = await pool(300, 50, async () => {
      const ws = new WebSocket(wsUrl, { headers: { "x-forwarded-for": socketer } });
      held.push(ws);
      return new Promise<string>((resolve) => {
        ws.once("open", () => resolve("open"));
        ws.once("unexpected-response", (_req, res) => resolve(String(res.statusCode)));
        ws.once("error", () => resolve("error"));
      });
    });
    expect(opened.filter((o) => o !== "open" && o !== "429")).toEqual([]);

    // One device logging in on 40 sockets: 8 are admitted, the rest refused with 4429.
    const from = callFrom(relay.url, "198.51.100.10");
    const greedy = newDevice();
    expect(
      (await from("POST", "/v1/mediators", { deviceId: greedy.deviceId, authPublicKey: greedy.publicKey }))
        .status,
    ).toBe(201);
    const token = await login(from, greedy);
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const ws = new WebSocket(wsUrl, { headers: { "x-forwarded-for": "198.51.100.10" } });
        held.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.once("open", () => resolve());
          ws.once("error", reject);
        });
        ws.send(JSON.stringify({ type: "auth", token }));
        return new Promise<string>((resolve) => {
          ws.on("message", (data: Buffer) => {
            const frame = JSON.parse(data.toString()) as { type: string };
            if (frame.type === "ready") resolve("ready");
          });
          ws.once("close", (code) => resolve(String(code)));
        });
      }),
    );
    const counts = tally(outcomes.map((o) => (o === "ready" ? 0 : Number(o))));
    expect(counts[0]).toBe(defaultLimits.socketsPerDevice);
    expect(counts[4429]).toBe(40 - defaultLimits.socketsPerDevice);
    await legitimateRoundTrip("With hundreds of sockets open.");
  });

  it("slow bodies hold connections, not the relay: the legitimate channel goes on meanwhile", async () => {
    const port = relay.port;
    const head =
      "POST /v1/mediators HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n" +
      `Content-Length: 1000000\r\nX-Forwarded-For: ${slowpoke}\r\n\r\n{"deviceId":"`;
    const sockets = await pool(100, 20, async () => {
      const s = connect(port, "127.0.0.1");
      held.push(s);
      s.on("error", () => undefined);
      await new Promise<void>((resolve) => s.once("connect", () => resolve()));
      s.write(head);
      return s;
    });
    // A byte now and then on each, as a slowloris would.
    for (const s of sockets) s.write("a");
    await legitimateRoundTrip("While a hundred bodies trickle in.");
    for (const s of sockets) s.destroy();
  });

  it("junk ciphertext meets the per-caucus rate, fetches are paged by bytes, memory stays bounded", async () => {
    const from = callFrom(relay.url, junker);
    const junk = newDevice();
    expect(
      (await from("POST", "/v1/mediators", { deviceId: junk.deviceId, authPublicKey: junk.publicKey }))
        .status,
    ).toBe(201);
    const token = await login(from, junk);
    const channel = await from("POST", "/v1/channels", {}, token);
    const { channelId } = channel.body as { channelId: string };
    const caucus = await from("POST", `/v1/channels/${channelId}/caucuses`, {}, token);
    const { caucusId } = caucus.body as { caucusId: string };
    const posts = await pool(80, 8, async () => {
      const res = await from(
        "POST",
        `/v1/caucuses/${caucusId}/events`,
        { eventId: randomUUID(), kind: "application", epoch: 0, ciphertext: randomB64(512 * 1024) },
        token,
      );
      return res.status;
    });
    const counts = tally(posts);
    expect(counts[201]).toBeLessThanOrEqual(defaultLimits.postsPerCaucus.points);
    expect(counts[429]).toBeGreaterThanOrEqual(80 - defaultLimits.postsPerCaucus.points);

    // Greedy fetches of all of it at once: each page holds at most the page size.
    const pages = await pool(12, 12, async () => {
      const res = await from.raw(`/v1/caucuses/${caucusId}/events?after=0`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
    });
    for (const p of pages) {
      expect(p.status).toBe(200);
      // Base64 of the page's ciphertext, plus an event's worth over the limit at most.
      expect(p.bytes).toBeLessThan(((defaultLimits.pageBytes + 512 * 1024) * 4) / 3 + 64 * 1024);
    }
    await legitimateRoundTrip("After the junk.");
    // The issue saw six fetches take a relay from 146 to 284 MiB; with the limits this whole run
    // peaked at about 190 here.
    expect(maxRss).toBeLessThan(300);
  });
});
