import { createPublicKey, verify } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { generateAuthKey, signWithAuthKey } from "../../src/crypto/node/auth-key.js";
import { MemoryStateStore, Party, type Mediator } from "../../src/sdk/index.js";
import { nodePlatform } from "../../src/sdk/node.js";
import type { WatchHandle } from "../../src/sdk/watch.js";
import {
  consoleDir,
  inProbe,
  launchBrowser,
  openContext,
  openProbe,
  screenshot,
  startConsoleServer,
  type BrowserSession,
  type ConsoleServer,
} from "./harness.js";

/**
 * The browser sdk in real Chromium, through the production bundle served by a real relay: the
 * WebCrypto login key, the encrypted IndexedDB store, and one caucus shared by a browser
 * mediator and Node sdk handlers (the browser and Node builds speak the same protocol).
 */
const TOPIC = "no new strikes";
const MEDIATOR_NAME = "Browser mediator";
const DB = "backchannel-test";
const SIGNAL = "not interested in escalating at this stage";
const SUBSTANCE = "the other side signals it does not seek escalation for now";
const ACK = "received; no commitment, no coordination, no ceasefire";

/** A raw record as rawRecords describes it: CryptoKeys and byte arrays made JSON-safe. */
interface KeyDescription {
  cryptoKey: true;
  extractable: boolean;
  algorithm: unknown;
  usages: string[];
  exportError: string;
}
interface BytesDescription {
  bytes: number;
  latin1: string;
}
interface RawKeyRecord {
  id: string;
  key: KeyDescription;
}
interface RawStateRecord {
  v: number;
  keyId: string;
  iv: BytesDescription;
  ciphertext: BytesDescription;
}

/** Reads the raw IndexedDB records of a database, as a thief with the profile folder would. */
function rawRecords(page: Page, name: string) {
  return page.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(dbName);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error("open failed"));
    });
    const storeNames = Array.from(db.objectStoreNames);
    const tx = db.transaction(storeNames, "readonly");
    const records: { store: string; key: string; value: unknown }[] = [];
    for (const storeName of storeNames) {
      const store = tx.objectStore(storeName);
      const [keys, values] = await Promise.all(
        [store.getAllKeys(), store.getAll()].map(
          (req) =>
            new Promise<unknown[]>((resolve, reject) => {
              req.onsuccess = () => resolve(req.result as unknown[]);
              req.onerror = () => reject(req.error ?? new Error("read failed"));
            }),
        ),
      );
      for (let i = 0; i < keys!.length; i++) {
        const v = values![i] as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const [field, x] of Object.entries(v)) {
          if (x instanceof CryptoKey) {
            let exportError = "";
            await crypto.subtle.exportKey("raw", x).catch((e: Error) => (exportError = e.name));
            out[field] = {
              cryptoKey: true,
              extractable: x.extractable,
              algorithm: x.algorithm,
              usages: x.usages,
              exportError,
            };
          } else if (x instanceof Uint8Array) {
            out[field] = { bytes: x.length, latin1: String.fromCharCode(...x) };
          } else out[field] = x;
        }
        records.push({ store: storeName, key: String(keys![i]), value: out });
      }
    }
    db.close();
    return { storeNames, records };
  }, name);
}

describe("browser sdk in Chromium, production bundle", () => {
  let server: ConsoleServer;
  let browser: Browser;
  let session: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await launchBrowser();
    session = await openContext(browser);
    page = session.page;
    await openProbe(page, server.url);
  }, 180_000);
  afterAll(async () => {
    await session?.close();
    await browser?.close();
    await server?.close();
  });

  test("the bundle holds no Node built-ins and no Node WebSocket", () => {
    const assets = join(consoleDir, "assets");
    const js = readdirSync(assets).filter((f) => f.endsWith(".js"));
    expect(js.length).toBeGreaterThan(0);
    for (const file of js) {
      const code = readFileSync(join(assets, file), "utf8");
      expect(code, file).not.toMatch(/(?:from|import)\s*\(?\s*["'](?:node:|ws["']|crypto["'])/);
      expect(code, file).not.toContain("__vite-browser-external");
      expect(code, file).not.toContain("ws does not work in the browser");
    }
  });

  test("the console page loads under its CSP with no errors", async () => {
    const consolePage = await session.context.newPage();
    const res = await consolePage.goto(`${server.url}/`);
    expect(res?.status()).toBe(200);
    const headers = res!.headers();
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    await consolePage.waitForFunction("document.getElementById('root')?.childElementCount > 0");
    await screenshot(consolePage, "console-start");
    await consolePage.close();
    expect(session.errors).toEqual([]);
  });

  test("login keys made with WebCrypto are Node's format: either side signs for the other", async () => {
    const message = "backchannel-login\ntest";
    const fromBrowser = await inProbe(
      page,
      async (bc, msg) => {
        const key = await bc.browserPlatform.generateAuthKey();
        return { key, signature: await bc.browserPlatform.signAuth(key, new TextEncoder().encode(msg)) };
      },
      message,
    );
    expect(fromBrowser.key.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fromBrowser.key.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const publicKey = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: fromBrowser.key.publicKey },
      format: "jwk",
    });
    expect(
      verify(null, Buffer.from(message), publicKey, Buffer.from(fromBrowser.signature, "base64url")),
    ).toBe(true);
    // Ed25519 is deterministic: the same key signs the same bytes identically on both sides.
    expect(signWithAuthKey(fromBrowser.key, Buffer.from(message))).toBe(fromBrowser.signature);

    const nodeKey = generateAuthKey();
    const browserSig = await inProbe(
      page,
      (bc, { key, msg }) => bc.browserPlatform.signAuth(key, new TextEncoder().encode(msg)),
      { key: nodeKey, msg: message },
    );
    expect(browserSig).toBe(signWithAuthKey(nodeKey, Buffer.from(message)));
  });

  /** Waits until the browser mediator's watch() has reported an event. */
  const waitUntilSeen = (eventId: string) =>
    page.waitForFunction(
      (id) =>
        (window as unknown as { probeSeen: { eventId: string }[] }).probeSeen.some((e) => e.eventId === id),
      eventId,
    );

  let mediatorId = "";
  let caucus: Record<string, string> = {};
  test("a browser mediator registers with its WebCrypto key, logs in and opens a channel", async () => {
    const r = await inProbe(
      page,
      async (bc, { db, topic, name, relayUrl }) => {
        const store = new bc.IdbStateStore(db);
        const m = await bc.Mediator.create({
          serverUrl: relayUrl,
          name,
          store,
          platform: bc.browserPlatform,
        });
        const channel = await m.createChannel({ topic, parties: ["A", "B"] });
        return { deviceId: m.deviceId, channel, exists: await store.exists() };
      },
      { db: DB, topic: TOPIC, name: MEDIATOR_NAME, relayUrl: server.relayUrl },
    );
    expect(r.exists).toBe(true);
    expect(r.channel.topic).toBe(TOPIC);
    mediatorId = r.deviceId;
    caucus = Object.fromEntries(r.channel.caucuses.map((c) => [c.partyName, c.caucusId]));
    expect(Object.keys(caucus)).toEqual(["A", "B"]);
  });

  test("its IndexedDB holds ciphertext only, under a non-extractable AES-GCM key", async () => {
    const raw = await rawRecords(page, DB);
    expect(raw.storeNames).toEqual(["device"]);
    // One record per part, named by an HMAC of the part's key (which names caucuses and counts
    // transcript entries), and the two keys: no part key is stored in clear.
    const names = raw.records.map((r) => r.key);
    expect(names).toContain("state-key");
    expect(names).toContain("names-key");
    const partRecords = raw.records.filter((r) => r.key.startsWith("part:"));
    expect(partRecords.length).toBeGreaterThanOrEqual(3); // the device and its two caucuses, at least
    expect(partRecords.length).toBe(raw.records.length - 2);
    for (const r of partRecords) expect(r.key).toMatch(/^part:[A-Za-z0-9_-]{43}$/);
    const key = raw.records.find((r) => r.key === "state-key")!.value as RawKeyRecord;
    expect(key.key).toMatchObject({
      cryptoKey: true,
      extractable: false,
      algorithm: { name: "AES-GCM", length: 256 },
      exportError: "InvalidAccessError",
    });
    const namesKey = raw.records.find((r) => r.key === "names-key")!.value as RawKeyRecord;
    expect(namesKey).toMatchObject({
      id: key.id,
      key: {
        cryptoKey: true,
        extractable: false,
        algorithm: { name: "HMAC" },
        exportError: "InvalidAccessError",
      },
    });
    for (const r of partRecords) {
      const part = r.value as RawStateRecord;
      expect(part).toMatchObject({ v: 2, keyId: key.id, iv: { bytes: 12 } });
      expect(Object.keys(part).sort()).toEqual(["ciphertext", "iv", "keyId", "v"]);
    }
    expect(Math.max(...partRecords.map((r) => (r.value as RawStateRecord).ciphertext.bytes))).toBeGreaterThan(
      1000,
    );
    const everything = JSON.stringify(raw);
    for (const secret of [
      TOPIC,
      MEDIATOR_NAME,
      mediatorId,
      caucus.A!,
      caucus.B!,
      "caucus/",
      "entry/",
      '"authKey"',
      '"identityKey"',
    ])
      expect(everything).not.toContain(secret);

    // A fresh IV for every save.
    const save = () =>
      inProbe(
        page,
        (bc, db) => new bc.IdbStateStore(db).update(new Map([["device", { v: 0 }]])).then(() => undefined),
        "probe-iv",
      );
    const ivOf = async () => {
      const parts = (await rawRecords(page, "probe-iv")).records.filter((r) => r.key.startsWith("part:"));
      expect(parts).toHaveLength(1);
      return (parts[0]!.value as RawStateRecord).iv.latin1;
    };
    await save();
    const first = await ivOf();
    await save();
    expect(await ivOf()).not.toBe(first);
  });

  test("a damaged or missing store fails with the keystore's codes; clear() forgets the key", async () => {
    const codes = await inProbe(page, async (bc) => {
      const code = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (e: { code?: string; message?: string }) => e.code ?? e.message,
        );
      const empty = new bc.IdbStateStore("probe-empty");
      const result: Record<string, unknown> = {
        emptyExists: await empty.exists(),
        emptyLoad: await code(empty.load()),
      };
      const store = new bc.IdbStateStore("probe-tamper");
      await store.update(new Map([["device", { hello: "world" }]]));
      result.roundTrip = await store.load();
      await store.close();
      // Flip one ciphertext bit behind the store's back.
      const db = await new Promise<IDBDatabase>((resolve) => {
        const r = indexedDB.open("probe-tamper");
        r.onsuccess = () => resolve(r.result);
      });
      await new Promise<void>((resolve) => {
        const tx = db.transaction("device", "readwrite");
        const s = tx.objectStore("device");
        const cursor = s.openCursor(IDBKeyRange.bound("part:", "part;"));
        cursor.onsuccess = () => {
          const v = cursor.result!.value as { ciphertext: Uint8Array };
          v.ciphertext[0]! ^= 1;
          cursor.result!.update(v);
        };
        tx.oncomplete = () => resolve();
      });
      db.close();
      const reopened = new bc.IdbStateStore("probe-tamper");
      result.tampered = await code(reopened.load());
      await reopened.clear();
      result.afterClearExists = await reopened.exists();
      result.afterClear = await code(reopened.load());
      return result;
    });
    expect(codes).toEqual({
      emptyExists: false,
      emptyLoad: "keystore_missing",
      roundTrip: { device: { hello: "world" } },
      tampered: "keystore_corrupt",
      afterClearExists: false,
      afterClear: "keystore_missing",
    });
  });

  test("one record per part: an update touches only its parts; swapped records are keystore_corrupt", async () => {
    const r = await inProbe(page, async (bc) => {
      const code = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (e: { code?: string; message?: string }) => e.code ?? e.message,
        );
      const raw = async () => {
        const db = await new Promise<IDBDatabase>((resolve) => {
          const req = indexedDB.open("probe-parts");
          req.onsuccess = () => resolve(req.result);
        });
        const records = await new Promise<Map<string, unknown>>((resolve) => {
          const tx = db.transaction("device", "readonly");
          const keys = tx.objectStore("device").getAllKeys();
          const values = tx.objectStore("device").getAll();
          tx.oncomplete = () => resolve(new Map(keys.result.map((k, i) => [k as string, values.result[i]])));
        });
        return { db, records };
      };
      const store = new bc.IdbStateStore("probe-parts");
      await store.update(
        new Map<string, unknown>([
          ["device", { v: 1 }],
          ["caucus/c1", { group: "g0" }],
          ["entry/c1/0", { seq: 1 }],
        ]),
      );
      const before = (await raw()).records;
      await store.update(
        new Map<string, unknown>([
          ["entry/c1/1", { seq: 2 }],
          ["entry/c1/0", undefined],
        ]),
      );
      const afterUpdate = await store.load();
      const { db, records: after } = await raw();
      // Part records the second update left as they were (same ciphertext).
      const sealed = (v: unknown) => JSON.stringify((v as { ciphertext?: unknown } | undefined)?.ciphertext);
      const unchanged = [...before].filter(
        ([k, v]) => k.startsWith("part:") && sealed(after.get(k)) === sealed(v),
      );
      // Swap the ciphertexts of two records.
      const [a, b] = [...after.keys()].filter((k) => k.startsWith("part:"));
      await new Promise<void>((resolve) => {
        const tx = db.transaction("device", "readwrite");
        tx.objectStore("device").put(after.get(b!), a);
        tx.objectStore("device").put(after.get(a!), b);
        tx.oncomplete = () => resolve();
      });
      db.close();
      await store.close();
      const swapped = await code(new bc.IdbStateStore("probe-parts").load());
      await new bc.IdbStateStore("probe-parts").clear();
      return {
        afterUpdate,
        partsBefore: [...before.keys()].filter((k) => k.startsWith("part:")).length,
        partsAfter: [...after.keys()].filter((k) => k.startsWith("part:")).length,
        unchanged: unchanged.length,
        swapped,
      };
    });
    expect(r).toEqual({
      afterUpdate: { device: { v: 1 }, "caucus/c1": { group: "g0" }, "entry/c1/1": { seq: 2 } },
      partsBefore: 3,
      partsAfter: 3,
      unchanged: 2, // the device and caucus parts
      swapped: "keystore_corrupt",
    });
  });

  test('a whole state stored before parts reads as the part "state", and goes when the sdk deletes it', async () => {
    const r = await inProbe(page, async (bc) => {
      const store = new bc.IdbStateStore("probe-legacy");
      await store.update(new Map([["other", 1]])); // makes the key
      await store.close();
      // Write a record in the first format with the page's own (non-extractable, but usable) key.
      const db = await new Promise<IDBDatabase>((resolve) => {
        const req = indexedDB.open("probe-legacy");
        req.onsuccess = () => resolve(req.result);
      });
      const keyRecord = await new Promise<{ id: string; key: CryptoKey }>((resolve) => {
        const get = db.transaction("device", "readonly").objectStore("device").get("state-key");
        get.onsuccess = () => resolve(get.result as { id: string; key: CryptoKey });
      });
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ciphertext = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: new TextEncoder().encode("backchannel/device-state/v1") },
          keyRecord.key,
          new TextEncoder().encode(JSON.stringify({ whole: "state" })),
        ),
      );
      await new Promise<void>((resolve) => {
        const tx = db.transaction("device", "readwrite");
        tx.objectStore("device").put({ v: 1, keyId: keyRecord.id, iv, ciphertext }, "state");
        tx.oncomplete = () => resolve();
      });
      db.close();
      const reopened = new bc.IdbStateStore("probe-legacy");
      const legacy = await reopened.load();
      await reopened.update(
        new Map<string, unknown>([
          ["state", undefined],
          ["device", { v: 1 }],
        ]),
      );
      const converted = await reopened.load();
      const exists = await reopened.exists();
      await reopened.clear();
      return { legacy, converted, exists };
    });
    expect(r).toEqual({
      legacy: { other: 1, state: { whole: "state" } },
      converted: { other: 1, device: { v: 1 } },
      exists: true,
    });
  });

  test("the mediator's device survives a page reload", async () => {
    await page.reload();
    await page.waitForFunction(() => "backchannelProbe" in window);
    const r = await inProbe(
      page,
      async (bc, db) => {
        const m = await bc.Mediator.open(new bc.IdbStateStore(db), bc.browserPlatform);
        bc.devices.set("mediator", m);
        // Logs in again with the key read back from IndexedDB.
        await m.sync();
        return { deviceId: m.deviceId, name: m.name, channels: m.channels() };
      },
      DB,
    );
    expect(r.deviceId).toBe(mediatorId);
    expect(r.name).toBe(MEDIATOR_NAME);
    expect(r.channels.map((c) => c.topic)).toEqual([TOPIC]);
  });

  test("a browser mediator and Node sdk handlers share caucuses: join, signal, convey, acknowledge", async () => {
    // The mediator watches over its WebSocket (under the console's CSP), as the console will.
    await inProbe(page, async (bc) => {
      const m = bc.devices.get("mediator")!;
      const seen: { caucusId: string; eventId: string; type: string | undefined }[] = [];
      const statuses: string[] = [];
      const handle = await bc.watch(
        m,
        (caucusId, added) =>
          seen.push(...added.map((e) => ({ caucusId, eventId: e.eventId, type: e.payload?.body.type }))),
        (s) => statuses.push(s),
      );
      Object.assign(window, { probeSeen: seen, probeStatuses: statuses, probeWatch: handle });
    });
    await page.waitForFunction(() =>
      (window as unknown as { probeStatuses: string[] }).probeStatuses.includes("connected"),
    );

    const codes = await inProbe(
      page,
      async (bc, ids) => {
        const m = bc.devices.get("mediator") as Mediator;
        return { A: (await m.invite(ids.A)).code, B: (await m.invite(ids.B)).code };
      },
      caucus as { A: string; B: string },
    );
    const join = (code: string, name: string) =>
      Party.join({ inviteCode: code, name, store: new MemoryStateStore(), platform: nodePlatform });
    const a = await join(codes.A, "A's handler");
    const b = await join(codes.B, "B's handler");
    expect(a.serverUrl).toBe(server.relayUrl);

    // The browser lists them as pending admissions with their codes; it admits each whose code
    // matches the handler's own.
    const handlers = await inProbe(
      page,
      async (bc, { ids, expected }) => {
        const m = bc.devices.get("mediator") as Mediator;
        await m.sync();
        for (const p of m.pendingAdmissions())
          if (expected[p.deviceId] === p.verificationCode) await m.admit(p.caucusId, p.deviceId);
        return { A: m.handlers(ids.A), B: m.handlers(ids.B) };
      },
      {
        ids: caucus as { A: string; B: string },
        expected: { [a.deviceId]: a.verificationCode(), [b.deviceId]: b.verificationCode() },
      },
    );
    expect(handlers.A.map((h) => h.deviceId)).toEqual([a.deviceId]);
    expect(handlers.B.map((h) => h.deviceId)).toEqual([b.deviceId]);
    expect(await a.waitUntilJoined(10_000)).toBe(true);
    expect(await b.waitUntilJoined(10_000)).toBe(true);
    expect(handlers.A[0]!.verificationCode).toBe(a.verificationCode());
    await a.sync();
    expect(a.caucus(a.caucusId)).toMatchObject({ topic: TOPIC, partyName: "A", mediatorName: MEDIATOR_NAME });

    // A's handler (Node) signals; the browser mediator hears it over its WebSocket.
    const signal = await a.send({ text: SIGNAL, disclosure: "substance", attribution: "party" });
    await waitUntilSeen(signal.eventId);

    const conveyed = await inProbe(
      page,
      async (bc, { from, eventId, text }) => {
        const m = bc.devices.get("mediator") as Mediator;
        const body = m.entries(from).find((e) => e.eventId === eventId)?.payload?.body;
        const verbatim = await m.convey({ from, eventId, mode: "verbatim" }).then(
          () => "conveyed",
          (e: { code?: string }) => e.code,
        );
        const r = await m.convey({ from, eventId, mode: "substance", text });
        return { body, verbatim, receipt: r.receipt?.payload?.body };
      },
      { from: caucus.A!, eventId: signal.eventId, text: SUBSTANCE },
    );
    expect(conveyed.body).toMatchObject({
      type: "signal",
      text: SIGNAL,
      disclosure: "substance",
      stance: { commitment: "none", coordination: "none", obligation: "none" },
    });
    expect(conveyed.verbatim).toBe("disclosure_substance_only");
    expect(conveyed.receipt).toMatchObject({ type: "receipt", mode: "substance", text: SUBSTANCE });

    // B's handler (Node) receives the conveyance, attributed to A; A sees the receipt's exact words.
    await b.sync();
    const conveyance = b.entries(b.caucusId).find((e) => e.payload?.body.type === "conveyance")!;
    expect(conveyance.payload?.body).toMatchObject({ text: SUBSTANCE, mode: "substance", fromParty: "A" });
    await a.sync();
    expect(
      a.entries(a.caucusId).find((e) => e.payload?.body.type === "receipt")?.payload?.body,
    ).toMatchObject({ text: SUBSTANCE, toParties: ["B"] });

    // B acknowledges, allowing verbatim (substance only is the default); the browser conveys it
    // back to A verbatim.
    const ack = await b.acknowledge(conveyance.eventId, { text: ACK, disclosure: "verbatim" });
    await waitUntilSeen(ack.eventId);
    await inProbe(
      page,
      async (bc, { from, eventId }) => {
        const m = bc.devices.get("mediator") as Mediator;
        await m.convey({ from, eventId, mode: "verbatim" });
      },
      { from: caucus.B!, eventId: ack.eventId },
    );
    await a.sync();
    const back = a.entries(a.caucusId).filter((e) => e.payload?.body.type === "conveyance");
    expect(back.map((e) => e.payload?.body)).toMatchObject([
      { source: "acknowledgement", mode: "verbatim", text: ACK, fromParty: "B" },
    ]);

    // Every device, browser and Node, verifies its transcripts.
    const reports = await inProbe(page, async (bc) => {
      const m = bc.devices.get("mediator") as Mediator;
      const r = await m.verify();
      (window as unknown as { probeWatch: WatchHandle }).probeWatch.stop();
      return r;
    });
    expect(reports.map((r) => r.ok)).toEqual([true, true]);
    expect((await a.verify()).every((r) => r.ok)).toBe(true);
    expect((await b.verify()).every((r) => r.ok)).toBe(true);
    expect(session.errors).toEqual([]);
  });
});
