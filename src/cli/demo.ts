import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  mkdirSync,
  existsSync,
  createWriteStream,
} from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pc from "picocolors";
import { describeStance } from "../protocol/index.js";
import { Mediator, Party, SdkError, readDeviceState, watch, type TranscriptEntry } from "../sdk/index.js";
import { FileStateStore, nodePlatform } from "../sdk/node.js";
import { startServer, type RunningServer, type StartServerOptions } from "../server/start-server.js";
import { createSchema, dropSchema, schemaText } from "../server/storage/postgres/schema-admin.js";
import { defaultDemoDatabaseUrl, defaultDemoNatsUrl } from "./demo-defaults.js";

/** docs/design.md's acceptance story, played by separate sdk clients over real sockets. */
export const A_TEXT = "We are not interested in escalating at this stage.";
export const SUBSTANCE_TEXT = "Party A has indicated that it does not seek further escalation at this time.";
export const B_ACK_TEXT = "Received. No commitment, no coordination, no ceasefire.";
const TOPIC = "no new strikes";

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface DemoResult {
  ok: boolean;
  dataDir: string;
  /** The first relay node's address. */
  serverUrl: string;
  /** Every relay node's address, the mediator's first, then A's handler's, then B's. */
  serverUrls: string[];
  /** Where the relays kept everything: "SQLite in …", or the PostgreSQL schema and NATS server. */
  storage: string;
  checks: DemoCheck[];
}

export interface DemoOptions {
  /** Keep everything here (default: a temp dir, deleted afterwards). */
  dataDir?: string;
  say?: (line: string) => void;
  /**
   * Play the story across this many relay nodes on PostgreSQL and NATS, each device on another
   * node (default: one relay on SQLite, no services needed).
   */
  nodes?: number;
  /** With `nodes`: the PostgreSQL server; the demo works in a schema of its own and drops it. */
  databaseUrl?: string;
  /** With `nodes`: the NATS server the nodes push to each other through. */
  natsUrl?: string;
  /**
   * Relay nodes already running (a test's own deployment) instead of starting any: their
   * addresses, and the PostgreSQL schema they share, scanned for plaintext afterwards.
   */
  running?: { urls: string[]; databaseUrl: string; schema: string };
}

/** The relay nodes the demo plays on, and what it scans for plaintext once it is done. */
interface DemoRelays {
  servers: { url: string }[];
  /** For the narration: where the relays keep things. */
  where: string;
  /** Every stored byte the relays wrote that could hold a word: "name contains “word”". */
  leaks(words: string[]): Promise<string[]>;
  close(): Promise<void>;
}

async function startRelays(
  opts: DemoOptions,
  dataDir: string,
  logger: StartServerOptions["logger"],
  keep: boolean,
): Promise<DemoRelays> {
  if (opts.running) {
    const { urls, databaseUrl, schema } = opts.running;
    return {
      servers: urls.map((url) => ({ url })),
      where: `the relay nodes' PostgreSQL schema ${schema}`,
      leaks: (words) => schemaLeaks(databaseUrl, schema, words),
      close: () => Promise.resolve(),
    };
  }
  if (opts.nodes === undefined) {
    // Open registration, on purpose: the demo's own relay lives on a loopback port for one run,
    // and the story starts with the mediator registering (closed registration is tested apart).
    const server = await startServer({ port: 0, dataDir, logger, registration: "open" });
    return {
      servers: [server],
      where: `SQLite in ${dataDir}`,
      leaks: (words) => Promise.resolve(serverPlaintextLeaks(dataDir, words)),
      close: () => server.close(),
    };
  }
  const databaseUrl = opts.databaseUrl ?? defaultDemoDatabaseUrl;
  const natsUrl = opts.natsUrl ?? defaultDemoNatsUrl;
  const schema = `backchannel_demo_${randomBytes(6).toString("hex")}`;
  const url = await createSchema(databaseUrl, schema);
  const servers: RunningServer[] = [];
  try {
    // All at once, as a deployment's nodes start: the migrations' advisory lock lets one migrate.
    const started = await Promise.allSettled(
      Array.from({ length: opts.nodes }, () =>
        startServer({ port: 0, dataDir, databaseUrl: url, natsUrl, logger, registration: "open" }),
      ),
    );
    for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    for (const s of servers) await s.close();
    await dropSchema(databaseUrl, schema);
    throw error;
  }
  return {
    servers,
    where: `PostgreSQL schema ${schema}, NATS at ${natsUrl}`,
    leaks: async (words) => [
      ...serverPlaintextLeaks(dataDir, words),
      ...(await schemaLeaks(databaseUrl, schema, words)),
    ],
    async close() {
      for (const s of servers) await s.close();
      if (!keep) await dropSchema(databaseUrl, schema);
    },
  };
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const say = opts.say ?? (() => {});
  if (opts.nodes !== undefined && (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 16))
    throw new RangeError("nodes must be a whole number from 1 to 16");
  const keep = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "backchannel-demo-"));
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(dataDir, "server.log");
  const log = createWriteStream(logPath, { flags: "a" });
  let relays: DemoRelays;
  try {
    relays = await startRelays(opts, dataDir, { destination: log }, keep);
  } catch (error) {
    log.end();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { servers } = relays;
  // The mediator on the first node, A's handler on the next, B's on the one after.
  const nodeOf = (i: number) => servers[i % servers.length]!;
  const server = nodeOf(0);
  const checks: DemoCheck[] = [];
  const check = (name: string, ok: boolean, detail?: string) => {
    checks.push({ name, ok, ...(detail ? { detail } : {}) });
    say(`   ${ok ? pc.green("✔") : pc.red("✘")} ${name}${detail && !ok ? ` — ${detail}` : ""}`);
  };
  const store = (who: string) => {
    const dir = join(dataDir, "devices", who);
    mkdirSync(dir, { recursive: true });
    return new FileStateStore(
      join(dir, `device-${randomBytes(4).toString("hex")}.json`),
      randomBytes(16).toString("hex"),
    );
  };
  try {
    if (servers.length === 1) say(pc.bold(`Relay server on ${server.url} (${relays.where})`));
    else {
      say(pc.bold(`${servers.length} relay nodes (${relays.where}):`));
      say(`   the mediator on ${nodeOf(0).url}, A's handler on ${nodeOf(1).url}, B's on ${nodeOf(2).url}`);
    }

    say(
      pc.bold(
        "\n1. The mediator opens the channel “no new strikes” with parties A and B and invites each party's handler.",
      ),
    );
    const mediator = await Mediator.create({
      serverUrl: server.url,
      name: "The mediator",
      store: store("mediator"),
      platform: nodePlatform,
    });
    const channel = await mediator.createChannel({ topic: TOPIC, parties: ["Party A", "Party B"] });
    const capA = channel.caucuses[0]!;
    const capB = channel.caucuses[1]!;
    const inviteA = await mediator.invite(capA.caucusId);
    const inviteB = await mediator.invite(capB.caucusId);
    const storeA = store("party-a");
    const storeB = store("party-b");
    const a = await Party.join({
      inviteCode: inviteA.code,
      store: storeA,
      platform: nodePlatform,
      serverUrl: nodeOf(1).url,
    });
    const b = await Party.join({
      inviteCode: inviteB.code,
      store: storeB,
      platform: nodePlatform,
      serverUrl: nodeOf(2).url,
    });
    // The mediator's device checks their certificates and lists them as pending admissions; the
    // mediator compares each verification code with the handler, then admits (MLS add + Welcome).
    await mediator.sync();
    const pending = mediator.pendingAdmissions();
    const codeA = pending.find((p) => p.deviceId === a.deviceId)?.verificationCode;
    const codeB = pending.find((p) => p.deviceId === b.deviceId)?.verificationCode;
    check("A's verification code matches the mediator's", codeA === a.verificationCode());
    check("B's verification code matches the mediator's", codeB === b.verificationCode());
    check("nobody is admitted before the codes are compared", mediator.handlers(capA.caucusId).length === 0);
    await mediator.admit(capA.caucusId, a.deviceId);
    await mediator.admit(capB.caucusId, b.deviceId);
    check("A's handler admitted", await a.waitUntilJoined(10_000));
    check("B's handler admitted", await b.waitUntilJoined(10_000));

    say(
      pc.bold("\n2. A's handler sends a notification of intent (substance only, attributed, stance none)."),
    );
    const signal = await a.send({
      text: A_TEXT,
      signalKind: "notification_of_intent",
      disclosure: "substance",
      attribution: "party",
    });
    say(
      `   “${A_TEXT}”  — ${describeStance(signal.payload!.body.type === "signal" ? signal.payload!.body.stance : (undefined as never))}`,
    );

    say(pc.bold("\n3. The mediator conveys it to B in substance; A sees the receipt with the exact words."));
    await mediator.sync();
    let refused = false;
    try {
      await mediator.convey({ from: capA.caucusId, eventId: signal.eventId, mode: "verbatim" });
    } catch (e) {
      refused = e instanceof SdkError || (e as { code?: string }).code === "disclosure_substance_only";
    }
    check("a verbatim conveyance of a substance-only signal is refused", refused);
    // B's device listens on its push socket (on its own node): the conveyance must reach it by
    // push, at once, not by a poll (a watching device polls only once a minute).
    let connected!: () => void;
    const isConnected = new Promise<void>((r) => (connected = r));
    let pushed!: (n: number) => void;
    const heard = new Promise<number>((r) => (pushed = r));
    const conveyedAt = { t: 0 };
    const live = await watch(
      b,
      (_caucusId, added) => {
        if (added.some((e) => e.payload?.body.type === "conveyance")) pushed(Date.now() - conveyedAt.t);
      },
      (status) => status === "connected" && connected(),
    );
    await isConnected;
    conveyedAt.t = Date.now();
    await mediator.convey({
      from: capA.caucusId,
      eventId: signal.eventId,
      mode: "substance",
      text: SUBSTANCE_TEXT,
    });
    const giveUp = new AbortController();
    const pushMs = await Promise.race([
      heard,
      delay(10_000, undefined, { signal: giveUp.signal }).catch(() => undefined),
    ]).finally(() => giveUp.abort());
    live.stop();
    await live.done;
    check(
      servers.length > 1
        ? "B's device heard of the conveyance by push, across relay nodes"
        : "B's device heard of the conveyance by push",
      pushMs !== undefined,
      "no push within 10 s",
    );
    if (pushMs !== undefined)
      say(`   B's device was told and had decrypted it ${pushMs} ms after the mediator sent it`);
    await a.sync();
    const receipt = a.entries(a.caucusId).find((e) => e.payload?.body.type === "receipt");
    const receiptText = receipt?.payload?.body.type === "receipt" ? receipt.payload.body.text : undefined;
    check("A's receipt holds exactly the words B received", receiptText === SUBSTANCE_TEXT);
    say(`   receipt in A: “${receiptText}”`);

    say(
      pc.bold(
        "\n4. B's handler acknowledges (stance none, allowing it verbatim) and the mediator conveys the acknowledgement back to A verbatim.",
      ),
    );
    await b.sync();
    const atB = b.entries(b.caucusId).find((e) => e.payload?.body.type === "conveyance");
    const atBBody = atB?.payload?.body;
    check(
      "B received the conveyance attributed to Party A",
      atBBody?.type === "conveyance" && atBBody.fromParty === "Party A" && atBBody.text === SUBSTANCE_TEXT,
    );
    // Substance only unless B says otherwise (as for a signal): B allows its words verbatim.
    const ack = await b.acknowledge(atB!.eventId, { text: B_ACK_TEXT, disclosure: "verbatim" });
    await mediator.sync();
    await mediator.convey({ from: capB.caucusId, eventId: ack.eventId, mode: "verbatim" });
    await a.sync();
    await b.sync();
    const ackAtA = a
      .entries(a.caucusId)
      .find((e) => e.payload?.body.type === "conveyance" && e.payload.body.source === "acknowledgement");
    check(
      "A received B's acknowledgement verbatim",
      ackAtA?.payload?.body.type === "conveyance" && ackAtA.payload.body.text === B_ACK_TEXT,
    );
    check(
      "B holds the receipt of its acknowledgement",
      b.entries(b.caucusId).some((e) => e.payload?.body.type === "receipt"),
    );

    say(
      pc.bold(
        "\n5. Every device verifies its transcript; isolation, ciphertext-only storage, no understanding.",
      ),
    );
    for (const [who, d] of [
      ["mediator", mediator],
      ["A", a],
      ["B", b],
    ] as const) {
      const reports = await d.verify();
      check(
        `${who}'s transcripts verify (${reports.map((r) => `#${r.head.seq}`).join(", ")})`,
        reports.length > 0 && reports.every((r) => r.ok),
      );
    }
    const stateA = JSON.stringify(await readDeviceState(storeA));
    const stateB = JSON.stringify(await readDeviceState(storeB));
    const handlerA = mediator.handlers(capA.caucusId)[0]!;
    const handlerB = mediator.handlers(capB.caucusId)[0]!;
    check(
      "nothing in B's data names A's handler or device",
      !stateB.includes(handlerA.deviceId) &&
        !stateB.includes(handlerA.handlerKey) &&
        !stateB.includes(capA.caucusId),
    );
    check(
      "nothing in A's data names B's handler or device",
      !stateA.includes(handlerB.deviceId) &&
        !stateA.includes(handlerB.handlerKey) &&
        !stateA.includes(capB.caucusId),
    );
    check("B never saw A's verbatim words (substance only)", !stateB.includes(A_TEXT));
    log.end();
    await new Promise<void>((r) => log.once("close", () => r()));
    const leaks = await relays.leaks([
      A_TEXT,
      SUBSTANCE_TEXT,
      B_ACK_TEXT,
      "escalat",
      "ceasefire",
      TOPIC,
      "Party A",
      "Party B",
    ]);
    check(
      servers.length > 1
        ? "the relays' database and log hold no plaintext"
        : "the server's database, WAL and log hold no plaintext",
      leaks.length === 0,
      leaks.join("; "),
    );
    check(
      "there is no understanding (parallel notifications only)",
      mediator.understandings(channel.channelId).every((u) => !u.reached),
    );
    return {
      ok: checks.every((c) => c.ok),
      dataDir,
      serverUrl: server.url,
      serverUrls: servers.map((s) => s.url),
      storage: relays.where,
      checks,
    };
  } finally {
    await relays.close();
    if (!log.closed) log.end();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Scans every row of every table in the schema for any of the words. */
async function schemaLeaks(databaseUrl: string, schema: string, words: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const [table, text] of await schemaText(databaseUrl, schema))
    for (const w of words)
      // bytea columns read as hex: look for the word's bytes too.
      if (text.includes(w) || text.includes(Buffer.from(w).toString("hex")))
        found.push(`table ${table} contains “${w}”`);
  return found;
}

/** Scans every file the server wrote (database, WAL, log) for any of the words. */
export function serverPlaintextLeaks(dataDir: string, words: string[]): string[] {
  const found: string[] = [];
  for (const f of readdirSync(dataDir)) {
    const p = join(dataDir, f);
    if (!/^backchannel\.sqlite(-wal|-shm)?$|^server\.log$/.test(f) || !existsSync(p)) continue;
    const text = readFileSync(p).toString("latin1");
    for (const w of words) if (text.includes(w)) found.push(`${f} contains “${w}”`);
  }
  return found;
}

export type { TranscriptEntry };
