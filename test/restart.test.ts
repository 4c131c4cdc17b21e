import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Party } from "../src/sdk/index.js";
import {
  Mediator,
  MemoryStateStore,
  type Device,
  type HttpTransport,
  type Platform,
  type TranscriptEntry,
} from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { watch, type WatchHandle } from "../src/sdk/watch.js";
import { joinUnconfirmed } from "./helpers/network.js";

/**
 * Invariant 6 with a real crash: the relay runs as its own process (`backchannel serve`, from
 * source via tsx so it is this tree's code, not a possibly stale dist/), is killed with SIGKILL in
 * the middle of a stream of sends, and is started again on the same data directory and port.
 */

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

class RelayProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderr = "";

  constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.stderr = "";
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
      cwd: repoRoot,
      env: {
        ...process.env,
        BACKCHANNEL_HOST: "127.0.0.1",
        BACKCHANNEL_PORT: String(this.port),
        BACKCHANNEL_DATA_DIR: this.dataDir,
        BACKCHANNEL_REGISTRATION: "open",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString("utf8")));
    let alive = true;
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        alive = false;
        resolve();
      }),
    );
    this.child = child;
    // Ready when it answers, not after a guessed delay.
    for (;;) {
      if (!alive) throw new Error(`relay exited during start:\n${this.stderr}`);
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** kill -9: no shutdown hooks, no flushing beyond what SQLite already made durable. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
    this.child = undefined;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls until `done()` holds; the test's own timeout bounds it (no assertion on how long it took). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 50));
}

async function expectAllVerified(device: Device): Promise<void> {
  const reports = await device.verify();
  expect(reports.length).toBeGreaterThan(0);
  for (const r of reports) expect(r, `${device.role} caucus ${r.caucusId}`).toMatchObject({ ok: true });
}

describe("kill -9 of the relay in the middle of a stream of sends", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "backchannel-restart-"));
  let relay: RelayProcess;
  let mediator: Mediator;
  let caucusA: string;
  /** Sends the stream. */
  let sender: Party;
  /** Another handler of A that only watches over WebSocket. */
  let watcher: Party;
  let watching: WatchHandle | undefined;
  const watched: TranscriptEntry[] = [];
  const statuses: string[] = [];
  let watchedFrom = 0;

  // The stream: ids chosen up front, so a retry can reuse them.
  const streamIds: string[] = Array.from({ length: 12 }, () => randomUUID());
  const textOf = (eventId: string) => `signal ${streamIds.indexOf(eventId) + 1}: no new strikes`;
  const acknowledged: TranscriptEntry[] = [];
  const failed: string[] = [];
  /** The sender's requests go through this when set (the crash below cuts one of them). */
  let intercept: HttpTransport | undefined;
  const senderPlatform: Platform = {
    ...nodePlatform,
    transport: (request) => (intercept ?? nodePlatform.transport)(request),
  };

  beforeAll(async () => {
    relay = new RelayProcess(await freePort(), dataDir);
    await relay.start();
    mediator = await Mediator.create({
      serverUrl: relay.url,
      name: "Mediator",
      store: new MemoryStateStore(),
      platform: nodePlatform,
    });
    const channel = await mediator.createChannel({ topic: "no new strikes", parties: ["A", "B"] });
    caucusA = channel.caucuses.find((c) => c.partyName === "A")!.caucusId;
    sender = await joinUnconfirmed(mediator, caucusA, { platform: senderPlatform });
    watcher = await joinUnconfirmed(mediator, caucusA);
    await mediator.sync();
    await sender.sync();
    await watcher.sync();
    watchedFrom = watcher.entries(caucusA).length;
    watching = await watch(
      watcher,
      (caucusId, added) => {
        if (caucusId === caucusA) watched.push(...added);
      },
      (status) => statuses.push(status),
    );
    await until(() => statuses.includes("connected"));
  });

  afterAll(async () => {
    watching?.stop();
    await relay?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("every acknowledged send survives, and retries with the same ids fill in the rest exactly once, in order", async () => {
    // The crash lands in the worst place: the relay has committed the fifth send and answered it,
    // and dies before that answer reaches the device (the answer is dropped here, after the real
    // round trip, and the relay is SIGKILLed). Sends 1-4 were acknowledged; 6-12 find it dead.
    let posts = 0;
    intercept = async (request) => {
      const response = await nodePlatform.transport(request);
      const isSend =
        request.method === "POST" && request.url.pathname.endsWith(`/v1/caucuses/${caucusA}/events`);
      if (isSend && ++posts === 5) {
        await relay.kill();
        throw new Error("socket hang up");
      }
      return response;
    };
    try {
      // Fired all at once; the device runs them one after another under its lock.
      await Promise.all(
        streamIds.map((eventId) =>
          sender.send({ text: textOf(eventId), eventId }).then(
            (entry) => void acknowledged.push(entry),
            () => void failed.push(eventId),
          ),
        ),
      );
    } finally {
      intercept = undefined;
    }
    expect(acknowledged.map((e) => e.eventId)).toEqual(streamIds.slice(0, 4));
    expect(failed).toEqual(streamIds.slice(4));

    await relay.start();
    // Durable though never acknowledged: the fifth send is on the restarted relay, once.
    const stored = await mediator.session.http.call("listEvents", {
      params: { caucusId: caucusA },
      query: { after: 0 },
    });
    expect(stored.events.filter((e) => streamIds.includes(e.eventId)).map((e) => e.eventId)).toEqual(
      streamIds.slice(0, 5),
    );

    // Retry every failed send with its original event id, the fifth included.
    for (const eventId of failed) {
      const entry = await sender.send({ text: textOf(eventId), eventId });
      expect(entry.eventId).toBe(eventId);
    }

    // The mediator did not sync during the stream: it reads everything from the restarted relay.
    await mediator.sync();
    await sender.sync();
    for (const device of [mediator, sender]) {
      const entries = device.entries(caucusA);
      const stream = entries.filter((e) => streamIds.includes(e.eventId));
      expect(
        stream.map((e) => e.eventId),
        device.role,
      ).toEqual(streamIds);
      expect(
        stream.map((e) => (e.payload?.body.type === "signal" ? e.payload.body.text : undefined)),
      ).toEqual(streamIds.map(textOf));
      // No holes and no repeats in the sequence numbers this device verified.
      const seqs = entries.map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
      // What the relay acknowledged before the crash is where it said it was.
      for (const ack of acknowledged)
        expect(entries.find((e) => e.eventId === ack.eventId)).toMatchObject({
          seq: ack.seq,
          hash: ack.hash,
        });
    }
    // (The watcher is left to its WebSocket: syncing it here would hand its news to this call.)
    for (const device of [mediator, sender]) await expectAllVerified(device);
  });

  it("a retry of an acknowledged send is answered duplicate and stored once", async () => {
    const first = acknowledged[0]!;
    const headBefore = (await mediator.sync(), mediator.caucus(caucusA).head);

    // The relay's idempotency: same id, whatever the body, gets the original position back.
    const answer = await sender.session.http.call("appendEvent", {
      params: { caucusId: caucusA },
      body: {
        eventId: first.eventId,
        kind: "application",
        epoch: first.epoch,
        ciphertext: randomBytes(64).toString("base64url"),
      },
    });
    expect(answer).toEqual({ seq: first.seq, hash: first.hash, duplicate: true });

    // The sdk's retry of the same send returns the stored event.
    const again = await sender.send({ text: textOf(first.eventId), eventId: first.eventId });
    expect(again).toMatchObject({ seq: first.seq, eventId: first.eventId, hash: first.hash });

    await mediator.sync();
    await sender.sync();
    expect(mediator.caucus(caucusA).head).toEqual(headBefore);
    for (const device of [mediator, sender])
      expect(device.entries(caucusA).filter((e) => e.eventId === first.eventId)).toHaveLength(1);
    for (const device of [mediator, sender]) await expectAllVerified(device);
  });

  it("a watching client reconnects after the restart and receives every event exactly once", async () => {
    // It noticed the crash and reconnected by itself.
    expect(statuses).toContain("reconnecting");
    await until(() => statuses.filter((s) => s === "connected").length >= 2);

    const later = await mediator.note(caucusA, "after the restart");
    const last = await sender.send({ text: "after the restart, from A" });
    await until(() => watched.some((e) => e.eventId === last.eventId));

    const ids = watched.map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // Exactly what it verified since it started watching: nothing missed, nothing doubled.
    expect(ids).toEqual(
      watcher
        .entries(caucusA)
        .slice(watchedFrom)
        .map((e) => e.eventId),
    );
    expect(ids.filter((id) => streamIds.includes(id))).toEqual(streamIds);
    expect(ids).toContain(later.eventId);
    await expectAllVerified(watcher);
  });
});
