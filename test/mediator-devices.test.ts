/**
 * The mediator's own devices (staff). A second device is linked with a one-time code, joins every
 * caucus of the mediator's channel by commit, reads each caucus from its join on, conveys, and
 * verifies; channels opened by either device reach the other; a removed staff device reads
 * nothing said afterwards, even with the relay's database in hand. Party devices learn nothing
 * about the mediator's staff beyond their own caucus's roster, and cannot use the new routes.
 *
 * Real relay on a real port, real sdk clients; nothing of ours is mocked.
 */
import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CaucusGroup, newDeviceKeys } from "../src/crypto/mls/caucus-group.js";
import { certifyMediatorDevice } from "../src/crypto/mls/credential.js";
import { generateIdentityKey, sign } from "../src/crypto/identity.js";
import { fromBase64Url, mediatorLinkSigningString, toBase64Url, utf8 } from "../src/protocol/index.js";
import { Mediator, MemoryStateStore, Party, type TranscriptEntry } from "../src/sdk/index.js";
import { decodeLinkCode, encodeLinkCode } from "../src/sdk/link-code.js";
import { groupOf } from "./helpers/internals.js";
import { nodePlatform } from "../src/sdk/node.js";
import { Session } from "../src/sdk/session.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

const NORTH = "Northland";
const SOUTH = "Southland";
const BEFORE_TEXT = "said before the second mediator device existed";
const AFTER_TEXT = "said after the second mediator device joined";
const SUBSTANCE = "The other side does not intend to escalate.";
const REMOVED_TEXT = "said after the second mediator device was removed";

const texts = (entries: readonly TranscriptEntry[]) =>
  entries.flatMap((e) => {
    const b = e.payload?.body;
    return b && "text" in b && b.text ? [b.text] : [];
  });

function withDatabase<T>(dataDir: string, fn: (db: Database.Database) => T, readonly = true): T {
  const db = new Database(join(dataDir, sqliteFileName), { readonly, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const newMediatorDevice = (code: string) =>
  Mediator.joinAsStaff({ linkCode: code, store: new MemoryStateStore(), platform: nodePlatform });

describe("the mediator's devices (staff)", () => {
  let net: TestNetwork;
  let first: Mediator;
  let staff: Mediator;
  let north: Party;
  let south: Party;
  let linkCode: string;
  let beforeSeq: number;

  const raw = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(new URL(path, net.server.url), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    net = await startNetwork({ parties: [NORTH, SOUTH] });
    first = net.mediator;
    north = net.handlers[NORTH]![0]!;
    south = net.handlers[SOUTH]![0]!;
    beforeSeq = (await north.send({ text: BEFORE_TEXT, disclosure: "verbatim" })).seq;
    await first.sync();

    ({ code: linkCode } = await first.link());
    staff = await newMediatorDevice(linkCode);
    expect(staff.joined).toBe(true); // nothing known yet, nothing to wait for
    await staff.sync(); // hands in one key package per caucus
    expect(staff.joined).toBe(false);
    expect(staff.caucusIds()).toEqual([]);
    await first.sync(); // admits it in both caucuses, posts channel info
    await staff.sync(); // joins from the Welcomes, learns topic and parties
  });
  afterAll(async () => {
    await net?.close();
  });

  test("a linked device joins every caucus of the channel and shows it as the first device does", () => {
    expect(staff.joined).toBe(true);
    expect(staff.role).toBe("mediator");
    expect(staff.mediatorKey).toBe(first.mediatorKey);
    expect(staff.name).toBe(first.name);
    expect(staff.channels()).toEqual(first.channels());
    expect(staff.caucusIds().sort()).toEqual(first.caucusIds().sort());
    for (const id of staff.caucusIds()) {
      expect(staff.caucus(id)).toMatchObject({ removed: false, topic: "no new strikes" });
      expect(staff.caucus(id).problem).toBeUndefined();
      expect(staff.handlers(id)).toEqual(first.handlers(id));
    }
    // Both devices list both, from their MLS rosters, each with its own key in each caucus.
    for (const [device, other] of [
      [first, staff],
      [staff, first],
    ] as const) {
      const list = device.mediatorDevices();
      expect(list.map((d) => [d.deviceId, d.thisDevice])).toEqual(
        expect.arrayContaining([
          [device.deviceId, true],
          [other.deviceId, false],
        ]),
      );
      expect(list).toHaveLength(2);
      for (const d of list)
        expect(d.caucuses.map((c) => c.caucusId).sort()).toEqual(first.caucusIds().sort());
    }
    const keys = (d: Mediator, id: string) =>
      d
        .mediatorDevices()
        .find((x) => x.deviceId === id)!
        .caucuses.map((c) => c.mlsKey)
        .sort();
    expect(keys(first, staff.deviceId)).toEqual(keys(staff, staff.deviceId));
    expect(keys(first, first.deviceId)).not.toEqual(keys(first, staff.deviceId));
  });

  test("it reads each caucus from its join on: nothing said before, on the relay or with its keys", async () => {
    const northCaucus = net.caucus[NORTH]!;
    expect(texts(first.entries(northCaucus))).toContain(BEFORE_TEXT);
    expect(texts(staff.entries(northCaucus))).not.toContain(BEFORE_TEXT);
    expect(staff.caucus(northCaucus).anchor.seq).toBeGreaterThan(beforeSeq);
    expect(staff.entries(northCaucus).every((e) => e.seq > staff.caucus(northCaucus).anchor.seq)).toBe(true);

    // The relay serves it nothing from before its join point, whatever cursor it asks for.
    const token = await staff.session.getToken();
    const page = await raw("GET", `/v1/caucuses/${northCaucus}/events?after=0`, token);
    expect(page.status).toBe(200);
    const seqs = (page.body.events as { seq: number }[]).map((e) => e.seq);
    expect(seqs.length).toBeGreaterThan(0);
    expect(Math.min(...seqs)).toBeGreaterThan(staff.caucus(northCaucus).anchor.seq);

    // And its group state cannot open the earlier ciphertext, taken straight from the database.
    const [row] = withDatabase(
      net.dataDir,
      (db) =>
        db
          .prepare("SELECT ciphertext FROM events WHERE caucus_id = ? AND seq = ?")
          .all(northCaucus, beforeSeq) as { ciphertext: Buffer }[],
    );
    expect(row).toBeDefined();
    const trust = { mediatorKey: staff.mediatorKey, caucusId: northCaucus };
    await expect(
      CaucusGroup.restore(trust, fromBase64Url(groupOf(staff, northCaucus)!)).process(row!.ciphertext),
    ).rejects.toThrow();
  });

  test("either device conveys what was said after the join; receipts and acknowledgements flow", async () => {
    const signal = await north.send({ text: AFTER_TEXT, disclosure: "verbatim" });
    await staff.sync();
    const seen = staff.entries(net.caucus[NORTH]!).find((e) => e.eventId === signal.eventId);
    expect(seen?.payload?.body).toMatchObject({ type: "signal", text: AFTER_TEXT });
    expect(seen?.senderRole).toBe("party");

    const { conveyances, receipt } = await staff.convey({
      from: net.caucus[NORTH]!,
      eventId: signal.eventId,
      mode: "substance",
      text: SUBSTANCE,
    });
    expect(conveyances).toHaveLength(1);
    expect(receipt!.senderDeviceId).toBe(staff.deviceId);

    // North sees the receipt with the exact words, from "the mediator".
    await north.sync();
    const northReceipt = north.entries(net.caucus[NORTH]!).find((e) => e.eventId === receipt!.eventId);
    expect(northReceipt?.senderRole).toBe("mediator");
    expect(northReceipt?.payload?.body).toMatchObject({
      type: "receipt",
      sourceEventId: signal.eventId,
      text: SUBSTANCE,
      toParties: [SOUTH],
    });

    // South acknowledges; the first device, which sees the staff's conveyance too, conveys it back.
    await south.sync();
    const conveyance = south.entries(net.caucus[SOUTH]!).find((e) => e.eventId === conveyances[0]!.eventId);
    expect(conveyance?.payload?.body).toMatchObject({
      type: "conveyance",
      text: SUBSTANCE,
      fromParty: NORTH,
    });
    const ack = await south.acknowledge(conveyance!.eventId, {
      text: "Received. No commitment.",
      disclosure: "verbatim",
    });
    await first.sync();
    expect(first.entries(net.caucus[SOUTH]!).map((e) => e.eventId)).toContain(conveyances[0]!.eventId);
    const back = await first.convey({ from: net.caucus[SOUTH]!, eventId: ack.eventId, mode: "verbatim" });
    await north.sync();
    expect(
      north.entries(net.caucus[NORTH]!).find((e) => e.eventId === back.conveyances[0]!.eventId),
    ).toMatchObject({
      payload: { body: { type: "conveyance", source: "acknowledgement", text: "Received. No commitment." } },
    });
    await staff.sync();
    expect(staff.entries(net.caucus[SOUTH]!).find((e) => e.eventId === back.receipt!.eventId)).toMatchObject({
      senderDeviceId: first.deviceId,
      payload: { body: { type: "receipt" } },
    });
  });

  test("every device verifies its transcripts", async () => {
    for (const device of [first, staff, north, south]) {
      const reports = await device.verify();
      expect(reports.length).toBeGreaterThan(0);
      for (const r of reports) expect(r, `${device.role} ${device.deviceId}`).toMatchObject({ ok: true });
    }
  });

  test("the link code is one-time: a second redemption is refused and changes nothing", async () => {
    const snapshot = () =>
      withDatabase(net.dataDir, (db) => ({
        devices: db.prepare("SELECT device_id, role FROM devices ORDER BY rowid").all(),
        staff: db.prepare("SELECT device_id, mediator_id FROM mediator_devices ORDER BY rowid").all(),
        channels: db.prepare("SELECT channel_id, device_id FROM channel_mediators ORDER BY rowid").all(),
        members: db
          .prepare("SELECT caucus_id, device_id, joined, removed FROM memberships ORDER BY rowid")
          .all(),
      }));
    const before = snapshot();
    const store = new MemoryStateStore();
    await expect(Mediator.joinAsStaff({ linkCode, store, platform: nodePlatform })).rejects.toMatchObject({
      code: "invite_used",
      status: 409,
    });
    expect(snapshot()).toEqual(before);
    // No half-made device is left in the store: it can be set up again with a fresh code.
    await expect(store.load()).rejects.toThrow();
  });

  test("a forged link signature, a damaged code or a foreign key is refused; the link stays usable", async () => {
    const { code } = await first.link();
    const link = decodeLinkCode(code);
    const deviceId = randomUUID();
    const authKey = nodePlatform.generateAuthKey();
    const forger = generateIdentityKey();
    const forged = await raw("POST", `/v1/mediator-links/${link.linkId}/redeem`, undefined, {
      deviceId,
      authPublicKey: authKey.publicKey,
      signature: toBase64Url(
        sign(forger.secretKey, utf8(mediatorLinkSigningString(link.linkId, deviceId, authKey.publicKey))),
      ),
    });
    expect(forged).toEqual({
      status: 400,
      body: { error: "signature_invalid", message: "signature by the link key does not verify" },
    });
    // Signed for another device id than the one sent: refused too.
    const swapped = await raw("POST", `/v1/mediator-links/${link.linkId}/redeem`, undefined, {
      deviceId,
      authPublicKey: authKey.publicKey,
      signature: toBase64Url(
        sign(
          fromBase64Url(link.linkSecret),
          utf8(mediatorLinkSigningString(link.linkId, randomUUID(), authKey.publicKey)),
        ),
      ),
    });
    expect(swapped.body.error).toBe("signature_invalid");
    const unknown = await raw("POST", `/v1/mediator-links/${randomUUID()}/redeem`, undefined, {
      deviceId,
      authPublicKey: authKey.publicKey,
      signature: toBase64Url(new Uint8Array(64)),
    });
    expect(unknown).toMatchObject({ status: 404, body: { error: "invite_invalid" } });
    expect(
      withDatabase(net.dataDir, (db) =>
        db.prepare("SELECT 1 FROM devices WHERE device_id = ?").get(deviceId),
      ),
    ).toBeUndefined();

    // The client refuses damaged codes, and a code whose mediator key does not match its secret.
    await expect(newMediatorDevice(code.slice(0, -10))).rejects.toMatchObject({ code: "link_code_invalid" });
    await expect(newMediatorDevice(code.replace("bc1m-", "bc1-"))).rejects.toMatchObject({
      code: "link_code_invalid",
    });
    const foreign = encodeLinkCode({ ...link, mediatorKey: toBase64Url(generateIdentityKey().publicKey) });
    await expect(newMediatorDevice(foreign)).rejects.toMatchObject({ code: "link_code_invalid" });

    // The real holder can still use it; the link it made then names the same mediator.
    const third = await newMediatorDevice(code);
    expect(third.mediatorKey).toBe(first.mediatorKey);
    // It is one of the mediator's devices until removed, waiting to join; remove it again.
    const removed = await first.removeMediatorDevice(third.deviceId);
    expect(removed.caucusIds).toEqual([]);
    await expect(third.sync()).rejects.toMatchObject({ code: "device_removed" });
    expect(third.caucusIds()).toEqual([]);
  });

  test("a key package the mediator's identity key did not certify for that device is never admitted", async () => {
    // A device that redeemed a real link, but certifies its MLS keys with a key of its own
    // (NORTH), or with the mediator's key for another device id (SOUTH).
    const link = decodeLinkCode((await first.link()).code);
    const deviceId = randomUUID();
    const authKey = nodePlatform.generateAuthKey();
    const redeemed = await raw("POST", `/v1/mediator-links/${link.linkId}/redeem`, undefined, {
      deviceId,
      authPublicKey: authKey.publicKey,
      signature: toBase64Url(
        sign(
          fromBase64Url(link.linkSecret),
          utf8(mediatorLinkSigningString(link.linkId, deviceId, authKey.publicKey)),
        ),
      ),
    });
    expect(redeemed).toEqual({
      status: 201,
      body: { deviceId, caucusIds: [net.caucus[NORTH]!, net.caucus[SOUTH]!] },
    });
    const token = await new Session(net.server.url, deviceId, authKey, nodePlatform).getToken();
    const foreign = generateIdentityKey();
    const mediatorSecret = fromBase64Url(link.mediatorSecret);
    const mediatorKey = fromBase64Url(link.mediatorKey);
    const forged: Record<string, Awaited<ReturnType<typeof newDeviceKeys>>> = {
      [NORTH]: await newDeviceKeys((mlsKey) =>
        certifyMediatorDevice(foreign.secretKey, foreign.publicKey, deviceId, mlsKey),
      ),
      [SOUTH]: await newDeviceKeys((mlsKey) =>
        certifyMediatorDevice(mediatorSecret, mediatorKey, randomUUID(), mlsKey),
      ),
    };
    for (const [party, keys] of Object.entries(forged)) {
      const put = await raw("PUT", `/v1/caucuses/${net.caucus[party]!}/key-package`, token, {
        keyPackage: toBase64Url(keys.keyPackage),
      });
      expect(put).toEqual({ status: 200, body: { caucusId: net.caucus[party]!, deviceId } });
    }
    const heads = first.caucusIds().map((id) => first.caucus(id).head);
    await first.sync();
    await staff.sync();
    expect(first.caucusIds().map((id) => first.caucus(id).head)).toEqual(heads);
    for (const d of [first, staff])
      expect(d.mediatorDevices().map((x) => x.deviceId)).not.toContain(deviceId);
    const firstToken = await first.session.getToken();
    for (const party of [NORTH, SOUTH]) {
      const { body } = await raw("GET", `/v1/caucuses/${net.caucus[party]!}/pending`, firstToken);
      expect(body.pending).toEqual([
        { deviceId, role: "mediator", keyPackage: toBase64Url(forged[party]!.keyPackage) },
      ]);
    }
    expect((await raw("GET", `/v1/caucuses/${net.caucus[NORTH]!}/welcome`, token)).status).toBe(404);
    // Its removal drops the pending memberships; nothing was ever committed for it.
    expect(await first.removeMediatorDevice(deviceId)).toEqual({ caucusIds: [] });
    for (const party of [NORTH, SOUTH])
      expect((await raw("GET", `/v1/caucuses/${net.caucus[party]!}/pending`, firstToken)).body).toEqual({
        pending: [],
      });
    expect((await raw("GET", "/v1/me", token)).body).toMatchObject({ error: "unauthenticated" });
  });

  test("a channel opened by either device reaches the other, which joins it by commit", async () => {
    const opened = await staff.createChannel({
      topic: "prisoner exchange",
      parties: ["Westland", "Eastland"],
    });
    expect(staff.channels().map((c) => c.topic)).toEqual(["no new strikes", "prisoner exchange"]);
    await first.sync(); // hands in key packages for the staff's new caucuses
    await staff.sync(); // the staff device admits the first one
    await first.sync(); // which joins and places them
    expect(first.channels().find((c) => c.channelId === opened.channelId)).toEqual(opened);
    expect(first.joined).toBe(true);

    // The first device invites a handler into the staff's channel; the staff device's own invite
    // is admitted by the staff device: each admits the handlers it invited.
    const west = await Party.join({
      inviteCode: (await first.invite(opened.caucuses[0]!.caucusId, { confirm: false })).code,
      store: new MemoryStateStore(),
      platform: nodePlatform,
    });
    await first.sync();
    expect(await west.waitUntilJoined(10_000)).toBe(true);
    const east = await Party.join({
      inviteCode: (await staff.invite(opened.caucuses[1]!.caucusId, { confirm: false })).code,
      store: new MemoryStateStore(),
      platform: nodePlatform,
    });
    await staff.sync();
    expect(await east.waitUntilJoined(10_000)).toBe(true);
    await west.sync();
    expect(west.caucus(west.caucusId)).toMatchObject({ topic: "prisoner exchange", partyName: "Westland" });
    const said = await west.send({ text: "west speaks", disclosure: "verbatim" });
    await first.convey({ from: west.caucusId, eventId: said.eventId, mode: "verbatim" });
    await east.sync();
    expect(texts(east.entries(east.caucusId))).toContain("west speaks");
    for (const d of [first, staff, west, east])
      for (const r of await d.verify()) expect(r).toMatchObject({ ok: true });
  });

  test("two devices admitting the same new device at once: one commit wins, the other stands down", async () => {
    const third = await newMediatorDevice((await staff.link()).code);
    await third.sync();
    const heads = () => first.caucusIds().map((id) => first.caucus(id).head.seq);
    const before = heads();
    await Promise.all([first.sync(), staff.sync()]);
    await Promise.all([first.sync(), staff.sync()]);
    await third.sync();
    expect(third.joined).toBe(true);
    expect(third.channels()).toEqual(first.channels());
    // Exactly one add commit per caucus (plus its channel info).
    for (const [i, id] of first.caucusIds().entries()) {
      const added = first
        .entries(id)
        .filter((e) => e.seq > before[i]! && e.membership?.added.includes(third.deviceId));
      expect(added, id).toHaveLength(1);
    }
    for (const d of [first, staff, third])
      for (const r of await d.verify()) expect(r).toMatchObject({ ok: true });
    expect((await first.removeMediatorDevice(third.deviceId)).caucusIds.sort()).toEqual(
      first.caucusIds().sort(),
    );
    await staff.sync();
    expect(staff.mediatorDevices().map((d) => d.deviceId)).not.toContain(third.deviceId);
  });

  test("a party device gets 403 on every new route, the same for any id, and learns nothing", async () => {
    const token = await north.session.getToken();
    const forbidden = { status: 403, body: { error: "forbidden", message: "mediator devices only" } };
    for (const caucusId of [net.caucus[NORTH]!, net.caucus[SOUTH]!, randomUUID()]) {
      expect(await raw("PUT", `/v1/caucuses/${caucusId}/key-package`, token, { keyPackage: "AAAA" })).toEqual(
        forbidden,
      );
    }
    for (const deviceId of [staff.deviceId, first.deviceId, randomUUID()])
      expect(await raw("DELETE", `/v1/mediator-devices/${deviceId}`, token)).toEqual(forbidden);
    expect(
      await raw("POST", "/v1/mediator-links", token, {
        linkId: randomUUID(),
        linkPublicKey: toBase64Url(generateIdentityKey().publicKey),
      }),
    ).toEqual(forbidden);
    expect(await raw("GET", `/v1/caucuses/${net.caucus[NORTH]!}/pending`, token)).toEqual(forbidden);

    // What it has: its own caucus, no channel id; a roster that lists the mediator's devices (as
    // its own caucus's MLS group must) and nothing about the other caucus or the channel.
    expect((await raw("GET", "/v1/me", token)).body).toEqual({
      deviceId: north.deviceId,
      role: "party",
      memberships: [expect.objectContaining({ caucusId: net.caucus[NORTH]! })],
    });
    const everything = JSON.stringify({
      entries: north.entries(net.caucus[NORTH]!),
      caucus: north.caucus(net.caucus[NORTH]!),
    });
    for (const secret of [net.caucus[SOUTH]!, net.channel.channelId, south.deviceId, south.identityPublicKey])
      expect(everything).not.toContain(secret);
    const roster = CaucusGroup.restore(
      { mediatorKey: north.mediatorKey, caucusId: net.caucus[NORTH]! },
      fromBase64Url(groupOf(north, net.caucus[NORTH]!)!),
    ).roster();
    expect(roster.map((m) => [m.credential?.role, m.credential?.deviceId]).sort()).toEqual(
      [
        ["mediator", first.deviceId],
        ["mediator", staff.deviceId],
        ["party", north.deviceId],
      ].sort(),
    );
  });

  test("another mediator's device can neither hand in a key package nor remove ours", async () => {
    const stranger = await Mediator.create({
      serverUrl: net.server.url,
      name: "Someone else",
      store: new MemoryStateStore(),
      platform: nodePlatform,
    });
    const token = await stranger.session.getToken();
    const notFound = { status: 404, body: { error: "not_found", message: "not found" } };
    expect(
      await raw("PUT", `/v1/caucuses/${net.caucus[NORTH]!}/key-package`, token, { keyPackage: "AAAA" }),
    ).toEqual(notFound);
    expect(await raw("DELETE", `/v1/mediator-devices/${staff.deviceId}`, token)).toEqual(notFound);
    expect(await raw("DELETE", `/v1/mediator-devices/${randomUUID()}`, token)).toEqual(notFound);
    await expect(stranger.removeMediatorDevice(staff.deviceId)).rejects.toMatchObject({
      code: "member_unknown",
    });
    // A joined device has no key package to hand in either.
    expect(
      await raw("PUT", `/v1/caucuses/${net.caucus[NORTH]!}/key-package`, await staff.session.getToken(), {
        keyPackage: "AAAA",
      }),
    ).toEqual(notFound);
    await expect(staff.removeMediatorDevice(staff.deviceId)).rejects.toMatchObject({
      code: "cannot_remove_self",
    });
  });

  describe("removal", () => {
    let lastGroups: Record<string, string>;
    let lastHeads: Record<string, number>;
    let entriesAtRemoval: Record<string, number>;
    let staffToken: string;

    beforeAll(async () => {
      await staff.sync();
      lastGroups = Object.fromEntries(staff.caucusIds().map((id) => [id, groupOf(staff, id)!]));
      lastHeads = Object.fromEntries(staff.caucusIds().map((id) => [id, staff.caucus(id).head.seq]));
      entriesAtRemoval = Object.fromEntries(staff.caucusIds().map((id) => [id, staff.entries(id).length]));
      staffToken = await staff.session.getToken();
      const { caucusIds } = await first.removeMediatorDevice(staff.deviceId);
      expect(caucusIds.sort()).toEqual(staff.caucusIds().sort());
      const signal = await north.send({ text: REMOVED_TEXT, disclosure: "verbatim" });
      await first.sync();
      await first.convey({ from: net.caucus[NORTH]!, eventId: signal.eventId, mode: "verbatim" });
    });

    test("the removed device can neither sync nor send, and the relay refuses it everything", async () => {
      await expect(staff.sync()).rejects.toMatchObject({ code: "device_removed" });
      for (const id of staff.caucusIds()) {
        expect(staff.caucus(id).removed).toBe(true);
        expect(staff.entries(id)).toHaveLength(entriesAtRemoval[id]!);
      }
      await expect(staff.note(net.caucus[NORTH]!, "still here?")).rejects.toMatchObject({ code: "removed" });
      // It cannot log in at all, and the token it had stopped working.
      await expect(staff.link()).rejects.toMatchObject({ code: "device_removed" });
      await expect(staff.session.getToken()).rejects.toMatchObject({ code: "device_removed" });
      for (const [method, path] of [
        ["GET", "/v1/me"],
        ["GET", "/v1/channels"],
        ...Object.keys(lastGroups).map((id) => ["GET", `/v1/caucuses/${id}/events?after=${lastHeads[id]}`]),
      ] as const)
        expect((await raw(method as "GET", path, staffToken)).status).toBe(401);
      // A new channel of the first device does not reach it.
      const later = await first.createChannel({ topic: "later", parties: ["P", "Q"] });
      const members = withDatabase(
        net.dataDir,
        (db) =>
          db
            .prepare("SELECT device_id FROM memberships WHERE caucus_id = ?")
            .all(later.caucuses[0]!.caucusId) as { device_id: string }[],
      );
      expect(members.map((m) => m.device_id)).toEqual([first.deviceId]);
    });

    test("its last group state cannot decrypt anything sent afterwards, taken from the database", async () => {
      let applications = 0;
      for (const [caucusId, group] of Object.entries(lastGroups)) {
        const rows = withDatabase(
          net.dataDir,
          (db) =>
            db
              .prepare(
                "SELECT seq, kind, ciphertext FROM events WHERE caucus_id = ? AND seq > ? ORDER BY seq",
              )
              .all(caucusId, lastHeads[caucusId]) as { seq: number; kind: string; ciphertext: Buffer }[],
        );
        expect(rows[0]?.kind).toBe("commit");
        const trust = { mediatorKey: first.mediatorKey, caucusId };
        const removal = await CaucusGroup.restore(trust, fromBase64Url(group)).process(rows[0]!.ciphertext);
        expect(removal.incoming).toMatchObject({ kind: "commit", removedSelf: true });
        for (const row of rows.filter((r) => r.kind === "application")) {
          applications++;
          await expect(
            CaucusGroup.restore(trust, fromBase64Url(group)).process(row.ciphertext),
          ).rejects.toThrow();
          await expect(removal.next.process(row.ciphertext)).rejects.toThrow();
          expect(row.ciphertext.toString("utf8")).not.toContain(REMOVED_TEXT);
        }
      }
      expect(applications).toBeGreaterThanOrEqual(3); // the signal, the conveyance, the receipt
    });

    test("the remaining devices read everything, no roster lists it, and all verify", async () => {
      expect(first.mediatorDevices().map((d) => d.deviceId)).toEqual([first.deviceId]);
      await north.sync();
      await south.sync();
      expect(texts(north.entries(net.caucus[NORTH]!))).toContain(REMOVED_TEXT);
      expect(texts(south.entries(net.caucus[SOUTH]!))).toContain(REMOVED_TEXT);
      const removal = north
        .entries(net.caucus[NORTH]!)
        .find((e) => e.membership?.removed.includes(staff.deviceId));
      expect(removal?.senderDeviceId).toBe(first.deviceId);
      for (const party of [north, south]) {
        const roster = CaucusGroup.restore(
          { mediatorKey: party.mediatorKey, caucusId: party.caucusId },
          fromBase64Url(groupOf(party, party.caucusId)!),
        ).roster();
        expect(roster.map((m) => m.credential?.deviceId)).not.toContain(staff.deviceId);
      }
      for (const device of [first, north, south])
        for (const r of await device.verify()) expect(r).toMatchObject({ ok: true });
      // What the server stores holds none of it in the clear.
      const all = withDatabase(net.dataDir, (db) =>
        (db.prepare("SELECT ciphertext FROM events").all() as { ciphertext: Buffer }[]).map((r) =>
          r.ciphertext.toString("utf8"),
        ),
      );
      for (const t of [AFTER_TEXT, SUBSTANCE, REMOVED_TEXT]) expect(all.join("")).not.toContain(t);
    });
  });
});

describe("a caucus the relay places in the wrong channel", () => {
  let net: TestNetwork;
  afterAll(async () => {
    await net?.close();
  });

  test("is not shown in it: the channel proof names the real channel", async () => {
    net = await startNetwork({ parties: [NORTH, SOUTH] });
    const decoy = await net.mediator.createChannel({ topic: "decoy", parties: ["X", "Y"] });
    const { code } = await net.mediator.link();
    const staff = await newMediatorDevice(code);
    // The relay (its database) now claims South's caucus belongs to the decoy channel.
    withDatabase(
      net.dataDir,
      (db) =>
        db
          .prepare("UPDATE caucuses SET channel_id = ? WHERE caucus_id = ?")
          .run(decoy.channelId, net.caucus[SOUTH]!),
      false,
    );
    await staff.sync();
    await net.mediator.sync();
    await staff.sync();
    expect(staff.caucusIds()).toContain(net.caucus[SOUTH]!);
    const shown = staff.channels().flatMap((c) => c.caucuses.map((x) => [c.channelId, x.caucusId]));
    expect(shown).not.toContainEqual([decoy.channelId, net.caucus[SOUTH]!]);
    expect(shown).not.toContainEqual([net.channel.channelId, net.caucus[SOUTH]!]);
    expect(shown).toContainEqual([net.channel.channelId, net.caucus[NORTH]!]);
    expect(staff.joined).toBe(false);
  });
});
