import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TestSocket, fetchCall, mediatorWithCaucus, newDevice, until } from "../src/server/test-helpers.js";
import { logLevel, startLoggedRelay } from "./helpers/logged-relay.js";
import { parsePrometheus, sample } from "./helpers/prometheus.js";
import { parseResponses } from "./helpers/raw-http.js";
import { startRelayNode, type RelayNode } from "./helpers/services.js";

/**
 * Issue 10: on SIGTERM `backchannel serve` stops accepting, turns /readyz to 503, lets requests in
 * flight finish, closes push sockets with 1012 (service restart: reconnect), refuses what still
 * arrives on open connections in the API's shape, closes storage and exits 0.
 */

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/**
 * A registration whose body is still on its way: the relay has routed it (it answered
 * `100 Continue`, which Node sends only once it hands the request on) but cannot answer yet.
 */
async function startSlowRegistration(port: number): Promise<{ finish(rest: string): Promise<string> }> {
  const device = newDevice();
  const body = JSON.stringify({ deviceId: device.deviceId, authPublicKey: device.publicKey });
  const socket: Socket = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);
  const continued = new Promise<void>((resolve) =>
    socket.on("data", () => Buffer.concat(chunks).includes("100 Continue") && resolve()),
  );
  socket.write(
    `POST /v1/mediators HTTP/1.1\r\nHost: relay.test\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n${body.slice(0, 10)}`,
  );
  await continued;
  return {
    async finish(rest) {
      socket.write(body.slice(10) + rest);
      await closed;
      return Buffer.concat(chunks)
        .toString("latin1")
        .replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
    },
  };
}

/** The code of a refused TCP connection, or "connected". */
const connectOutcome = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve("connected")));
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });

describe("backchannel serve on SIGTERM", () => {
  let node: RelayNode;

  it("drains: push sockets told to reconnect, the request in flight answered, late ones refused, exit 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "backchannel-shutdown-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    node = await startRelayNode({
      BACKCHANNEL_DATA_DIR: dataDir,
      BACKCHANNEL_DRAIN_TIMEOUT: "10",
      BACKCHANNEL_METRICS_PORT: "0",
    });
    cleanup.push(() => node.kill());
    const call = fetchCall(node.url);
    const mediator = await mediatorWithCaucus(call);
    const socket = new TestSocket(`${node.url.replace(/^http/, "ws")}/v1/ws`);
    cleanup.push(() => socket.ws.terminate());
    await socket.opened();
    socket.send({ type: "auth", token: mediator.token });
    expect(await socket.next()).toMatchObject({ type: "ready" });
    const metricsLine = /metrics \(Prometheus\) at (\S+)\n/;
    await until("the node says where its metrics are", () => metricsLine.test(node.stderr()));
    const metricsUrl = metricsLine.exec(node.stderr())?.[1];
    const scraped = parsePrometheus(await (await fetch(metricsUrl!)).text());
    expect(sample(scraped, "backchannel_push_sockets")).toBe(1);
    const inFlight = await startSlowRegistration(node.port);

    process.kill(node.pid()!, "SIGTERM");
    await until("the node says it is shutting down", () => node.stderr().includes("shutting down"));

    expect(await socket.closed).toEqual({ code: 1012, reason: "relay restarting: reconnect" });
    expect(await connectOutcome(node.port)).toBe("ECONNREFUSED");
    // The rest of the body, and a request behind it on the same connection: the first is
    // answered by its route, the second refused as the relay drains.
    const answers = parseResponses(
      Buffer.from(await inFlight.finish("GET /readyz HTTP/1.1\r\nHost: relay.test\r\n\r\n"), "latin1"),
    );
    expect(answers.map((a) => a.status)).toEqual([201, 503]);
    expect(answers[1]!.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(answers[1]!.body)).toEqual({
      error: "unavailable",
      message: expect.stringMatching(/shutting down/) as string,
    });
    expect(await node.exited()).toEqual({ code: 0, signal: null });
  });
});

describe("a drain that runs out of time", () => {
  it("cuts what is still open and closes anyway, saying so in the log", async () => {
    const relay = await startLoggedRelay({ drainTimeoutMs: 200 });
    const call = fetchCall(relay.url);
    await mediatorWithCaucus(call);
    // A body that never finishes would hold the drain for the 60 s request timeout.
    const stuck = await startSlowRegistration(relay.port);
    await relay.close();
    expect(relay.lines.some((l) => l.level === logLevel.warn && l.msg.startsWith("drain timed out"))).toBe(
      true,
    );
    // The connection was cut without an answer.
    expect(await stuck.finish("")).toBe("");
  });
});
