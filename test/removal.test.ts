/**
 * A removed handler's device reads nothing said after its removal: the relay stops serving it,
 * and — the part that does not depend on trusting the relay — the MLS remove commit re-keys the
 * caucus, so even with the server's database in hand, the device's last group state cannot
 * decrypt a single post-removal event. Real relay, real sdk clients; the attacker reads SQLite.
 */
import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import { CaucusGroup } from "../src/crypto/mls/caucus-group.js";
import { fromBase64Url, fromUtf8 } from "../src/protocol/index.js";
import type { Party } from "../src/sdk/index.js";
import { groupOf } from "./helpers/internals.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

const NORTH = "Northland";
const SOUTH = "Southland";
const BEFORE_TEXT = "said while both handlers were in the caucus";
const AFTER_TEXT = "said after the second handler was removed";
const NOTE_TEXT = "mediator note after the removal";
const SOUTH_TEXT = "a verbatim signal from the other side";

const frameText = (data: WebSocket.RawData): string =>
  (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString("utf8");

interface StoredRow {
  seq: number;
  event_id: string;
  kind: "commit" | "application";
  ciphertext: Buffer;
}

/** What an attacker with a copy of the relay's database has: every ciphertext of the caucus. */
function ciphertextsFromDatabase(dataDir: string, caucusId: string, afterSeq: number): StoredRow[] {
  const db = new Database(join(dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        "SELECT seq, event_id, kind, ciphertext FROM events WHERE caucus_id = ? AND seq > ? ORDER BY seq",
      )
      .all(caucusId, afterSeq) as StoredRow[];
  } finally {
    db.close();
  }
}

describe("removal: a removed handler cannot read what is said after its removal", () => {
  let net: TestNetwork;
  let caucus: string;
  let h1: Party;
  let h2: Party;
  let south: Party;
  /** h2's group state before and after it processed the last pre-removal signal. */
  let h2GroupBeforeSignal: string;
  let h2LastGroup: string;
  let h2LastHead: { seq: number; hash: string };
  let h2EntriesAtRemoval: number;
  let h2Token: string;
  let beforeSignalSeq: number;
  let removalSeq: number;
  const h2Frames: { type: string; caucusId?: string; seq?: number }[] = [];
  let h2Socket: WebSocket;

  beforeAll(async () => {
    net = await startNetwork({ parties: [NORTH, SOUTH], handlersPerParty: 2 });
    caucus = net.caucus[NORTH]!;
    [h1, h2] = net.handlers[NORTH] as [Party, Party];
    south = net.handlers[SOUTH]![0]!;

    await h2.sync();
    h2GroupBeforeSignal = groupOf(h2, caucus)!;
    const before = await h1.send({ text: BEFORE_TEXT });
    beforeSignalSeq = before.seq;
    await h2.sync();
    expect(h2.entries(caucus).map((e) => e.payload?.body)).toContainEqual(
      expect.objectContaining({ text: BEFORE_TEXT }),
    );
    h2LastGroup = groupOf(h2, caucus)!;
    h2LastHead = h2.caucus(caucus).head;
    h2EntriesAtRemoval = h2.entries(caucus).length;
    h2Token = await h2.session.getToken();

    // h2 keeps listening on its push socket, as a stolen device would.
    h2Socket = new WebSocket(`${net.server.url.replace(/^http/, "ws")}/v1/ws`);
    await new Promise((resolve, reject) => h2Socket.once("open", resolve).once("error", reject));
    const ready = new Promise<void>((resolve) =>
      h2Socket.on("message", (data: WebSocket.RawData) => {
        const frame = JSON.parse(frameText(data)) as { type: string };
        h2Frames.push(frame);
        if (frame.type === "ready") resolve();
      }),
    );
    h2Socket.send(JSON.stringify({ type: "auth", token: h2Token }));
    await ready;

    await net.mediator.removeDevice(caucus, h2.deviceId);
    removalSeq = net.mediator.caucus(caucus).head.seq;

    // After the removal: a handler's signal, a mediator note, a conveyance in and a receipt.
    const after = await h1.send({ text: AFTER_TEXT, disclosure: "verbatim" });
    const fromSouth = await south.send({ text: SOUTH_TEXT, disclosure: "verbatim" });
    await net.mediator.sync();
    await net.mediator.note(caucus, NOTE_TEXT);
    await net.mediator.convey({ from: caucus, eventId: after.eventId, mode: "verbatim" });
    await net.mediator.convey({ from: net.caucus[SOUTH]!, eventId: fromSouth.eventId, mode: "verbatim" });
    await h1.sync();
    // The relay closes a removed device's socket (after the frames pushed before it).
    if (h2Socket.readyState !== WebSocket.CLOSED)
      await new Promise<void>((resolve) => h2Socket.once("close", () => resolve()));
  });
  afterAll(async () => {
    h2Socket?.close();
    await net?.close();
  });

  const raw = async (token: string, method: "GET" | "POST", path: string, body?: unknown) => {
    const res = await fetch(new URL(path, net.server.url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return `${res.status} ${await res.text()}`;
  };

  test("the relay refuses the removed device everything, with the same error as for a caucus it never had", async () => {
    // The relay refuses the device any login; the sdk marks the caucus it had joined as removed.
    expect(h2.caucus(caucus).removed).toBe(false);
    await expect(h2.sync()).rejects.toMatchObject({ code: "device_removed" });
    expect(h2.caucus(caucus).removed).toBe(true);
    await expect(h2.send({ text: "still here?" })).rejects.toMatchObject({ code: "removed" });
    expect(h2.entries(caucus)).toHaveLength(h2EntriesAtRemoval);
    await expect(h2.session.getToken()).rejects.toMatchObject({ code: "device_removed" });

    // Its last token is dead too, and reads the same for its caucus as for one it never had.
    const token = h2Token;
    const nowhere = randomUUID();
    for (const [method, path, body] of [
      ["GET", "events", undefined],
      ["GET", `events?after=${h2LastHead.seq}`, undefined],
      ["GET", "welcome", undefined],
      ["POST", "events", { eventId: randomUUID(), kind: "application", epoch: 1, ciphertext: "AAAA" }],
    ] as const) {
      const mine = await raw(token, method, `/v1/caucuses/${caucus}/${path}`, body);
      expect(mine, `${method} ${path}`).toBe(
        await raw(token, method, `/v1/caucuses/${nowhere}/${path}`, body),
      );
      expect(mine).toMatch(/^401 /);
    }
    expect(await raw(token, "GET", "/v1/me")).toMatch(/^401 /);

    // Sending is refused too, and nothing lands in the caucus.
    const head = net.mediator.caucus(caucus).head;
    await expect(h2.send({ text: "still here?" })).rejects.toMatchObject({ code: "removed" });
    await net.mediator.sync();
    expect(net.mediator.caucus(caucus).head).toEqual(head);

    // Its push socket was told its membership changed, never that a new event exists, then closed.
    expect(h2Frames.filter((f) => f.type === "event")).toEqual([]);
    expect(h2Frames.map((f) => f.type)).toEqual(["ready", "membership", "error"]);
    expect(h2Frames[2]).toMatchObject({ error: "device_removed" });
  });

  test("its last group state cannot decrypt any post-removal ciphertext taken from the relay's database", async () => {
    const trust = { mediatorKey: h2.mediatorKey, caucusId: caucus };

    // Control: the same attack on a pre-removal event works, so the failures below are the keys, not the method.
    const [beforeRow] = ciphertextsFromDatabase(net.dataDir, caucus, beforeSignalSeq - 1);
    expect(beforeRow?.seq).toBe(beforeSignalSeq);
    const control = await CaucusGroup.restore(trust, fromBase64Url(h2GroupBeforeSignal)).process(
      beforeRow!.ciphertext,
    );
    expect(control.incoming.kind).toBe("application");
    expect(fromUtf8((control.incoming as { plaintext: Uint8Array }).plaintext)).toContain(BEFORE_TEXT);

    const rows = ciphertextsFromDatabase(net.dataDir, caucus, h2LastHead.seq);
    expect(rows[0]).toMatchObject({ seq: removalSeq, kind: "commit" });
    const applications = rows.filter((r) => r.kind === "application");
    // h1's signal, the note, the conveyance from South, the receipt for h1's signal (at least).
    expect(applications.length).toBeGreaterThanOrEqual(4);

    // h2 can process the commit that removes it — MLS tells it so — but gets no new epoch's keys.
    const removal = await CaucusGroup.restore(trust, fromBase64Url(h2LastGroup)).process(rows[0]!.ciphertext);
    expect(removal.incoming).toMatchObject({ kind: "commit", removedSelf: true });

    for (const row of applications) {
      // Straight from its last state (skipping the commit) and from the state after the commit.
      await expect(
        CaucusGroup.restore(trust, fromBase64Url(h2LastGroup)).process(row.ciphertext),
        `event #${row.seq} from the last state`,
      ).rejects.toThrow();
      await expect(
        removal.next.process(row.ciphertext),
        `event #${row.seq} after the commit`,
      ).rejects.toThrow();
    }
    // And the words themselves never sit in the database in the clear.
    for (const row of rows)
      for (const text of [AFTER_TEXT, NOTE_TEXT, SOUTH_TEXT])
        expect(row.ciphertext.toString("utf8")).not.toContain(text);
  });

  test("the remaining handler's roster no longer lists it; the others read everything and verify", async () => {
    const rosterIds = (group: string) =>
      CaucusGroup.restore({ mediatorKey: h1.mediatorKey, caucusId: caucus }, fromBase64Url(group))
        .roster()
        .map((m) => m.credential?.deviceId);

    await h1.sync();
    expect(rosterIds(h2LastGroup)).toContain(h2.deviceId);
    expect(rosterIds(groupOf(h1, caucus)!)).not.toContain(h2.deviceId);
    expect(rosterIds(groupOf(h1, caucus)!)).toContain(h1.deviceId);
    await net.mediator.sync();
    expect(net.mediator.handlers(caucus).map((h) => h.deviceId)).toEqual([h1.deviceId]);

    const removalEntry = h1.entries(caucus).find((e) => e.seq === removalSeq);
    expect(removalEntry?.membership).toEqual({ added: [], removed: [h2.deviceId] });
    const texts = h1.entries(caucus).map((e) => {
      const b = e.payload?.body;
      return b && "text" in b ? b.text : undefined;
    });
    expect(texts).toEqual(expect.arrayContaining([AFTER_TEXT, NOTE_TEXT, SOUTH_TEXT]));

    for (const device of [h1, net.mediator, south]) {
      const reports = await device.verify();
      expect(reports.length).toBeGreaterThan(0);
      for (const r of reports) expect(r, `${device.role} ${r.caucusId}`).toMatchObject({ ok: true });
    }
  });
});
