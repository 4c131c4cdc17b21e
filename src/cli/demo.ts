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
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pc from "picocolors";
import { describeStance } from "../protocol/index.js";
import { Mediator, Party, SdkError, readDeviceState, type TranscriptEntry } from "../sdk/index.js";
import { FileStateStore, nodePlatform } from "../sdk/node.js";
import { startServer } from "../server/start-server.js";

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
  serverUrl: string;
  checks: DemoCheck[];
}

export async function runDemo(
  opts: { dataDir?: string; say?: (line: string) => void } = {},
): Promise<DemoResult> {
  const say = opts.say ?? (() => {});
  const keep = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "backchannel-demo-"));
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(dataDir, "server.log");
  const log = createWriteStream(logPath, { flags: "a" });
  const server = await startServer({ port: 0, dataDir, logger: { destination: log } });
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
    say(pc.bold(`Relay server on ${server.url} (SQLite in ${dataDir})`));

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
    const a = await Party.join({ inviteCode: inviteA.code, store: storeA, platform: nodePlatform });
    const b = await Party.join({ inviteCode: inviteB.code, store: storeB, platform: nodePlatform });
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
    await mediator.convey({
      from: capA.caucusId,
      eventId: signal.eventId,
      mode: "substance",
      text: SUBSTANCE_TEXT,
    });
    await a.sync();
    const receipt = a.entries(a.caucusId).find((e) => e.payload?.body.type === "receipt");
    const receiptText = receipt?.payload?.body.type === "receipt" ? receipt.payload.body.text : undefined;
    check("A's receipt holds exactly the words B received", receiptText === SUBSTANCE_TEXT);
    say(`   receipt in A: “${receiptText}”`);

    say(
      pc.bold(
        "\n4. B's handler acknowledges (stance none) and the mediator conveys the acknowledgement back to A.",
      ),
    );
    await b.sync();
    const atB = b.entries(b.caucusId).find((e) => e.payload?.body.type === "conveyance");
    const atBBody = atB?.payload?.body;
    check(
      "B received the conveyance attributed to Party A",
      atBBody?.type === "conveyance" && atBBody.fromParty === "Party A" && atBBody.text === SUBSTANCE_TEXT,
    );
    const ack = await b.acknowledge(atB!.eventId, { text: B_ACK_TEXT });
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
    const leaks = serverPlaintextLeaks(dataDir, [
      A_TEXT,
      SUBSTANCE_TEXT,
      B_ACK_TEXT,
      "escalat",
      "ceasefire",
      TOPIC,
      "Party A",
      "Party B",
    ]);
    check("the server's database, WAL and log hold no plaintext", leaks.length === 0, leaks.join("; "));
    check(
      "there is no understanding (parallel notifications only)",
      mediator.understandings(channel.channelId).every((u) => !u.reached),
    );
    return { ok: checks.every((c) => c.ok), dataDir, serverUrl: server.url, checks };
  } finally {
    await server.close();
    if (!log.closed) log.end();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
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
