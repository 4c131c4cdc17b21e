import { describe, expect, it } from "vitest";
import { ciphertextOf, extendChain, genesisHash, linkHash } from "../../protocol/index.js";
import { appendInput as event, randomB64 } from "../test-helpers.js";
import type { AppendEventInput, Storage } from "./storage.js";
import { LATER, NOW, useStorage } from "./storage-fixtures.js";
import { backends } from "./test-backends.js";

describe.each(backends)("storage: $name", (backend) => {
  let s: Storage;
  const { caucusWithMediator, pendingParty, joinedParty, reopen } = useStorage(
    backend,
    (opened) => (s = opened),
  );

  describe("devices and login", () => {
    it("stores a device and refuses a second one with the same id", async () => {
      const d = { deviceId: crypto.randomUUID(), role: "mediator" as const, authPublicKey: randomB64(32) };
      await s.createDevice(d);
      expect(await s.getDevice(d.deviceId)).toEqual({ ...d, removed: false });
      await expect(s.createDevice({ ...d, role: "party" })).rejects.toMatchObject({ code: "device_exists" });
      expect(await s.getDevice(d.deviceId)).toEqual({ ...d, removed: false });
      expect(await s.getDevice(crypto.randomUUID())).toBeUndefined();
    });

    it("hands a challenge out exactly once", async () => {
      const c = { nonce: randomB64(32), deviceId: crypto.randomUUID(), expiresAt: 1_000 };
      await s.createChallenge(c);
      expect(await s.takeChallenge(c.nonce)).toEqual(c);
      expect(await s.takeChallenge(c.nonce)).toBeUndefined();
    });

    it("prunes expired challenges and sessions only", async () => {
      const { mediator } = await caucusWithMediator();
      await s.createChallenge({ nonce: "old", deviceId: mediator, expiresAt: 100 });
      await s.createChallenge({ nonce: "new", deviceId: mediator, expiresAt: 300 });
      await s.createSession({ tokenHash: "a".repeat(64), deviceId: mediator, expiresAt: 100 });
      await s.createSession({ tokenHash: "b".repeat(64), deviceId: mediator, expiresAt: 300 });
      await s.pruneExpired(200);
      expect(await s.takeChallenge("old")).toBeUndefined();
      expect(await s.takeChallenge("new")).toBeDefined();
      expect(await s.getSession("a".repeat(64))).toBeUndefined();
      expect(await s.getSession("b".repeat(64))).toEqual({
        tokenHash: "b".repeat(64),
        deviceId: mediator,
        expiresAt: 300,
      });
    });
  });

  describe("channels and caucuses", () => {
    it("makes every mediator device of the channel a joined member from seq 1, epoch 0", async () => {
      const m1 = crypto.randomUUID();
      const m2 = crypto.randomUUID();
      for (const d of [m1, m2])
        await s.createDevice({ deviceId: d, role: "mediator", authPublicKey: randomB64(32) });
      const channelId = crypto.randomUUID();
      const caucusId = crypto.randomUUID();
      await s.createChannel({ channelId, mediatorDeviceIds: [m1, m2] });
      await s.createCaucus({ caucusId, channelId });

      expect(await s.getCaucus(caucusId)).toEqual({
        caucusId,
        channelId,
        epoch: 0,
        head: { seq: 0, hash: genesisHash(caucusId) },
        closed: false,
        deletedThrough: 0,
      });
      for (const d of [m1, m2]) {
        expect(await s.getMembership(caucusId, d)).toEqual({
          caucusId,
          channelId,
          deviceId: d,
          role: "mediator",
          joined: true,
          fromSeq: 1,
          removed: false,
        });
      }
      expect(await s.listChannels(m2)).toEqual([
        { channelId, mediatorDeviceIds: [m1, m2], caucusIds: [caucusId] },
      ]);
      expect(await s.listChannels(crypto.randomUUID())).toEqual([]);
    });

    it("refuses a caucus in a channel that does not exist", async () => {
      await expect(
        s.createCaucus({ caucusId: crypto.randomUUID(), channelId: crypto.randomUUID() }),
      ).rejects.toMatchObject({ code: "not_found" });
    });
  });

  describe("invites", () => {
    it("are one-time: redeeming registers a pending party device, a second redemption changes nothing", async () => {
      const { caucusId } = await caucusWithMediator();
      const { party, inviteId, keyPackage } = await pendingParty(caucusId);

      expect(await s.getInvite(inviteId)).toMatchObject({ used: true, caucusId });
      expect(await s.getDevice(party)).toMatchObject({ role: "party" });
      expect(await s.getMembership(caucusId, party)).toMatchObject({
        role: "party",
        joined: false,
        fromSeq: 0,
        removed: false,
        inviteId,
        keyPackage,
      });

      const other = crypto.randomUUID();
      await expect(
        s.redeemInvite({ inviteId, deviceId: other, authPublicKey: randomB64(32), keyPackage, now: NOW }),
      ).rejects.toMatchObject({ code: "invite_used" });
      expect(await s.getDevice(other)).toBeUndefined();
      expect(await s.getMembership(caucusId, other)).toBeUndefined();
    });

    it("leave the invite usable when the device id is taken", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const inviteId = crypto.randomUUID();
      await s.createInvite({ inviteId, caucusId, invitePublicKey: randomB64(32), expiresAt: LATER });
      await expect(
        s.redeemInvite({
          inviteId,
          deviceId: mediator,
          authPublicKey: randomB64(32),
          keyPackage: randomB64(10),
          now: NOW,
        }),
      ).rejects.toMatchObject({ code: "device_exists" });
      expect(await s.getInvite(inviteId)).toMatchObject({ used: false });
    });

    it("reject an unknown invite, and an invite id reused for a different invite", async () => {
      const { caucusId } = await caucusWithMediator();
      await expect(
        s.redeemInvite({
          inviteId: crypto.randomUUID(),
          deviceId: crypto.randomUUID(),
          authPublicKey: randomB64(32),
          keyPackage: randomB64(10),
          now: NOW,
        }),
      ).rejects.toMatchObject({ code: "invite_invalid" });
      const invite = {
        inviteId: crypto.randomUUID(),
        caucusId,
        invitePublicKey: randomB64(32),
        expiresAt: LATER,
      };
      await s.createInvite(invite);
      await s.createInvite(invite); // a retry
      await expect(s.createInvite({ ...invite, invitePublicKey: randomB64(32) })).rejects.toMatchObject({
        code: "invite_invalid",
      });
      expect(await s.getInvite(invite.inviteId)).toEqual({ ...invite, used: false, revoked: false });
    });
  });

  describe("invite expiry and revocation", () => {
    it("refuse an expired invite and a revoked one, revoked first, and change nothing", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const inviteId = crypto.randomUUID();
      await s.createInvite({ inviteId, caucusId, invitePublicKey: randomB64(32), expiresAt: LATER });
      const attempt = (now: number) =>
        s.redeemInvite({
          inviteId,
          deviceId: crypto.randomUUID(),
          authPublicKey: randomB64(32),
          keyPackage: randomB64(10),
          now,
        });
      await expect(attempt(LATER)).rejects.toMatchObject({ code: "invite_expired" });
      expect(await s.revokeInvite({ inviteId, byDeviceId: mediator })).toEqual({ caucusId });
      await expect(attempt(NOW)).rejects.toMatchObject({ code: "invite_revoked" });
      await expect(attempt(LATER)).rejects.toMatchObject({ code: "invite_revoked" });
      expect(await s.getInvite(inviteId)).toMatchObject({ used: false, revoked: true });
      expect(await s.listMembers(caucusId)).toHaveLength(1);
    });

    it("revoking drops a device still waiting on the invite; an admitted one stays", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party: pending, inviteId } = await pendingParty(caucusId);
      await s.createSession({ tokenHash: "d".repeat(64), deviceId: pending, expiresAt: LATER });
      expect(await s.revokeInvite({ inviteId, byDeviceId: mediator })).toEqual({
        caucusId,
        droppedDeviceId: pending,
      });
      expect(await s.getMembership(caucusId, pending)).toMatchObject({ removed: true });
      expect(await s.getMembership(caucusId, pending)).not.toHaveProperty("keyPackage");
      expect(await s.getDevice(pending)).toMatchObject({ removed: true });
      expect(await s.getSession("d".repeat(64))).toBeUndefined();
      expect(await s.revokeInvite({ inviteId, byDeviceId: mediator })).toEqual({ caucusId });

      const { party: admitted } = await joinedParty(caucusId, mediator);
      const [m] = (await s.listMembers(caucusId)).filter((x) => x.deviceId === admitted);
      await s.revokeInvite({ inviteId: m!.inviteId!, byDeviceId: mediator });
      expect(await s.getMembership(caucusId, admitted)).toMatchObject({ joined: true, removed: false });
      expect(await s.getDevice(admitted)).toMatchObject({ removed: false });
    });

    it("only a joined mediator device of the invite's caucus may revoke it", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { inviteId } = await pendingParty(caucusId);
      const other = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      for (const by of [other.mediator, party, crypto.randomUUID()])
        await expect(s.revokeInvite({ inviteId, byDeviceId: by })).rejects.toMatchObject({
          code: "not_found",
        });
      await expect(
        s.revokeInvite({ inviteId: crypto.randomUUID(), byDeviceId: mediator }),
      ).rejects.toMatchObject({ code: "not_found" });
      expect(await s.getInvite(inviteId)).toMatchObject({ revoked: false });
    });
  });

  describe("removed devices and sessions", () => {
    it("getSessionDevice reads a session with its device, as getSession and getDevice do", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      // Expired or not: expiry is the caller's check, against its own clock.
      await s.createSession({ tokenHash: "a".repeat(64), deviceId: mediator, expiresAt: 100 });
      await s.createSession({ tokenHash: "b".repeat(64), deviceId: party, expiresAt: LATER });
      for (const tokenHash of ["a".repeat(64), "b".repeat(64)]) {
        const session = await s.getSession(tokenHash);
        expect(await s.getSessionDevice(tokenHash)).toEqual({
          session,
          device: await s.getDevice(session!.deviceId),
        });
      }
      expect(await s.getSessionDevice("a".repeat(64))).toMatchObject({
        session: { deviceId: mediator, expiresAt: 100 },
        device: { deviceId: mediator, role: "mediator", removed: false },
      });
      expect(await s.getSessionDevice("c".repeat(64))).toBeUndefined();
      // Removed by a commit: its device is removed and the session gone with it.
      await s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 1, removes: [party] }));
      expect(await s.getSessionDevice("b".repeat(64))).toBeUndefined();
    });

    it("deleteSessions drops one session, or all of a device's", async () => {
      const { mediator } = await caucusWithMediator();
      for (const h of ["a", "b", "c"])
        await s.createSession({ tokenHash: h.repeat(64), deviceId: mediator, expiresAt: LATER });
      expect(await s.deleteSessions(mediator, "a".repeat(64))).toBe(1);
      expect(await s.deleteSessions(crypto.randomUUID(), "b".repeat(64))).toBe(0);
      expect(await s.getSession("a".repeat(64))).toBeUndefined();
      expect(await s.getSession("b".repeat(64))).toBeDefined();
      expect(await s.deleteSessions(mediator)).toBe(2);
      expect(await s.getSession("c".repeat(64))).toBeUndefined();
    });

    it("a party device removed by commit is removed, with its sessions; a mediator device is not", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      await s.createSession({ tokenHash: "e".repeat(64), deviceId: party, expiresAt: LATER });
      await s.createSession({ tokenHash: "f".repeat(64), deviceId: mediator, expiresAt: LATER });
      await s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 1, removes: [party] }));
      expect(await s.getDevice(party)).toMatchObject({ removed: true });
      expect(await s.getSession("e".repeat(64))).toBeUndefined();
      expect(await s.getDevice(mediator)).toMatchObject({ removed: false });
      expect(await s.getSession("f".repeat(64))).toBeDefined();
    });

    it("keeps the mediator's removal proof for the removed device, and only for a device the commit removes", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      const { party: other } = await joinedParty(caucusId, mediator);
      const signature = randomB64(64);
      await expect(
        s.appendEvent(
          event(caucusId, mediator, {
            kind: "commit",
            epoch: 2,
            removes: [party],
            removalProofs: [{ deviceId: other, signature }],
          }),
        ),
      ).rejects.toMatchObject({ code: "invalid_request" });
      expect(await s.listRemovalProofs(other)).toEqual([]);
      await s.appendEvent(
        event(caucusId, mediator, {
          kind: "commit",
          epoch: 2,
          removes: [party],
          removalProofs: [{ deviceId: party, signature }],
        }),
      );
      expect(await s.listRemovalProofs(party)).toEqual([{ caucusId, signature }]);
      expect(await s.listRemovalProofs(other)).toEqual([]);
    });

    it("a mediator device removed from its mediator is removed, with its sessions", async () => {
      const { mediator } = await caucusWithMediator();
      const linkId = crypto.randomUUID();
      await s.createMediatorLink({ linkId, linkPublicKey: randomB64(32), createdBy: mediator });
      const staff = crypto.randomUUID();
      await s.redeemMediatorLink({ linkId, deviceId: staff, authPublicKey: randomB64(32) });
      await s.createSession({ tokenHash: "g".repeat(64), deviceId: staff, expiresAt: LATER });
      await s.removeMediatorDevice({ byDeviceId: mediator, deviceId: staff });
      expect(await s.getDevice(staff)).toMatchObject({ removed: true });
      expect(await s.getSession("g".repeat(64))).toBeUndefined();
    });
  });

  describe("appendEvent", () => {
    it("assigns seq from 1 and a hash chain that protocol extendChain verifies", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const sent = [event(caucusId, mediator), event(caucusId, mediator), event(caucusId, mediator)];
      const results = [];
      for (const e of sent) results.push(await s.appendEvent(e));
      expect(results.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(results.every((r) => !r.duplicate)).toBe(true);
      expect(results[0]!.hash).toBe(linkHash(genesisHash(caucusId), { ...sent[0]!, seq: 1 }));

      const events = await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 });
      expect(events.map((e) => [e.eventId, ciphertextOf(e)])).toEqual(
        sent.map((e) => [e.eventId, e.ciphertext]),
      );
      const verified = extendChain(
        { seq: 0, hash: genesisHash(caucusId) },
        events.map((e) => ({ ...e, caucusId })),
      );
      expect(verified).toEqual({ ok: true, head: { seq: 3, hash: results[2]!.hash } });
      expect((await s.getCaucus(caucusId))!.head).toEqual({ seq: 3, hash: results[2]!.hash });

      expect(
        (await s.listEvents(caucusId, { afterSeq: 1, limit: 1, maxBytes: 1e9 })).map((e) => e.seq),
      ).toEqual([2]);
      // The byte budget ends a page after the event that reaches it (64-byte ciphertexts here).
      const budget = async (maxBytes: number) =>
        (await s.listEvents(caucusId, { afterSeq: 0, limit: 10, maxBytes })).map((e) => e.seq);
      expect(await budget(100)).toEqual([1, 2]);
      expect(await budget(1)).toEqual([1]);
      expect(await s.listEvents(caucusId, { afterSeq: 3, limit: 10, maxBytes: 1e9 })).toEqual([]);
    });

    it("keeps seq and chain per caucus", async () => {
      const a = await caucusWithMediator();
      const b = await caucusWithMediator();
      await s.appendEvent(event(a.caucusId, a.mediator));
      const first = await s.appendEvent(event(b.caucusId, b.mediator));
      expect(first.seq).toBe(1);
    });

    it("is idempotent per (caucus, eventId) for the same sender", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const e = event(caucusId, mediator);
      const first = await s.appendEvent(e);
      const again = await s.appendEvent({ ...e, ciphertext: randomB64(10) });
      expect(again).toEqual({ seq: first.seq, hash: first.hash, duplicate: true, readers: [] });
      expect(await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 })).toHaveLength(1);
    });

    it("refuses an event id another sender already used", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      const e = event(caucusId, mediator, { epoch: 1 });
      await s.appendEvent(e);
      await expect(s.appendEvent({ ...e, senderDeviceId: party })).rejects.toMatchObject({
        code: "event_id_conflict",
      });
      expect(await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 })).toHaveLength(2);
    });

    it("lets the first commit for an epoch win and advances the epoch", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const commit = event(caucusId, mediator, { kind: "commit", epoch: 0 });
      await s.appendEvent(commit);
      expect((await s.getCaucus(caucusId))!.epoch).toBe(1);
      await expect(
        s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 0 })),
      ).rejects.toMatchObject({
        code: "epoch_conflict",
      });
      await expect(
        s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 2 })),
      ).rejects.toMatchObject({
        code: "epoch_conflict",
      });
      // A retry of the winning commit is answered as a duplicate, not as a conflict.
      expect(await s.appendEvent(commit)).toMatchObject({ seq: 1, duplicate: true });
      expect(await s.getCaucus(caucusId)).toMatchObject({ epoch: 1, head: { seq: 1 } });
    });

    it("refuses application messages outside the current epoch", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      await s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 0 }));
      await expect(s.appendEvent(event(caucusId, mediator, { epoch: 0 }))).rejects.toMatchObject({
        code: "stale_epoch",
      });
      await expect(s.appendEvent(event(caucusId, mediator, { epoch: 2 }))).rejects.toMatchObject({
        code: "stale_epoch",
      });
      expect(await s.appendEvent(event(caucusId, mediator, { epoch: 1 }))).toMatchObject({ seq: 2 });
    });

    it("lets only mediator members commit, and only members send", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      await expect(s.appendEvent(event(caucusId, party, { kind: "commit", epoch: 1 }))).rejects.toMatchObject(
        {
          code: "forbidden",
        },
      );
      const outsider = await caucusWithMediator();
      await expect(s.appendEvent(event(caucusId, outsider.mediator, { epoch: 1 }))).rejects.toMatchObject({
        code: "not_found",
      });
      const { party: pending } = await pendingParty(caucusId);
      await expect(s.appendEvent(event(caucusId, pending, { epoch: 1 }))).rejects.toMatchObject({
        code: "not_found",
      });
      expect((await s.getCaucus(caucusId))!.head.seq).toBe(1);
    });

    it("refuses welcomes and removes on application messages", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await pendingParty(caucusId);
      await expect(
        s.appendEvent(event(caucusId, mediator, { welcomes: [{ deviceId: party, welcome: randomB64(10) }] })),
      ).rejects.toMatchObject({ code: "invalid_request" });
      await expect(s.appendEvent(event(caucusId, mediator, { removes: [party] }))).rejects.toMatchObject({
        code: "invalid_request",
      });
      expect(await s.getMembership(caucusId, party)).toMatchObject({ joined: false, removed: false });
      expect((await s.getCaucus(caucusId))!.head.seq).toBe(0);
    });

    it("rule 7: the quota refuses application messages past a caucus's or a channel's bytes; commits count but pass", async () => {
      const { caucusId, channelId, mediator } = await caucusWithMediator();
      const quota = { caucusBytes: 100, channelBytes: 150 };
      const sized = (n: number, over: Partial<AppendEventInput> = {}) =>
        event(caucusId, mediator, { ciphertext: randomB64(n), quota, ...over });
      const first = sized(60);
      await s.appendEvent(first);
      await expect(s.appendEvent(sized(41))).rejects.toMatchObject({ code: "quota_exceeded", status: 413 });
      // A retry of a stored event still gets its answer, and it adds nothing.
      expect(await s.appendEvent(first)).toMatchObject({ seq: 1, duplicate: true });
      await s.appendEvent(sized(40)); // exactly full
      expect(await s.appendEvent(sized(30, { kind: "commit" }))).toMatchObject({ seq: 3 });
      // The commit counts: the channel now holds 130 bytes, so a new caucus may take 20 more.
      const other = crypto.randomUUID();
      await s.createCaucus({ caucusId: other, channelId });
      await expect(
        s.appendEvent(event(other, mediator, { ciphertext: randomB64(21), quota })),
      ).rejects.toMatchObject({ code: "quota_exceeded" });
      expect(await s.appendEvent(event(other, mediator, { ciphertext: randomB64(20), quota }))).toMatchObject(
        {
          seq: 1,
        },
      );
      // Without a quota nothing is refused.
      expect(
        await s.appendEvent(event(caucusId, mediator, { ciphertext: randomB64(1000), epoch: 1 })),
      ).toMatchObject({
        seq: 4,
      });
    });
  });

  describe("concurrent appends (group commit)", () => {
    /** The same devices, channel and caucuses, under the same ids, in any storage. */
    const ids = {
      m1: crypto.randomUUID(),
      m2: crypto.randomUUID(),
      party: crypto.randomUUID(),
      channelId: crypto.randomUUID(),
      c1: crypto.randomUUID(),
      c2: crypto.randomUUID(),
      inviteId: crypto.randomUUID(),
      keyPackage: randomB64(100),
    };
    async function sameCaucuses(storage: Storage): Promise<void> {
      for (const deviceId of [ids.m1, ids.m2])
        await storage.createDevice({ deviceId, role: "mediator", authPublicKey: randomB64(32) });
      await storage.createChannel({ channelId: ids.channelId, mediatorDeviceIds: [ids.m1, ids.m2] });
      for (const caucusId of [ids.c1, ids.c2])
        await storage.createCaucus({ caucusId, channelId: ids.channelId });
      await storage.createInvite({
        inviteId: ids.inviteId,
        caucusId: ids.c1,
        invitePublicKey: randomB64(32),
        expiresAt: LATER,
      });
      await storage.redeemInvite({
        inviteId: ids.inviteId,
        deviceId: ids.party,
        authPublicKey: randomB64(32),
        keyPackage: ids.keyPackage,
        now: NOW,
      });
    }

    type Outcome = { seq: number; hash: string; duplicate: boolean } | { error: unknown };
    const outcome = (r: PromiseSettledResult<Outcome>): Outcome =>
      r.status === "fulfilled" ? r.value : { error: (r.reason as { code?: unknown }).code ?? r.reason };

    it("answer each append as if it ran alone, in call order: accepted and refused mixed", async () => {
      const first = event(ids.c1, ids.m1);
      const welcome = randomB64(50);
      // Every rule once, each depending on the ones before it in the same batch.
      const batch: AppendEventInput[] = [
        event(ids.c1, ids.m1), // accepted: seq 2
        { ...first }, // a retry of seq 1: duplicate
        { ...first, senderDeviceId: ids.m2 }, // event_id_conflict
        event(ids.c1, ids.m1, { kind: "commit", welcomes: [{ deviceId: ids.party, welcome }] }), // seq 3, epoch 1
        event(ids.c1, ids.m2, { kind: "commit" }), // epoch_conflict: the first commit for epoch 0 won
        event(ids.c1, ids.m2), // stale_epoch: the caucus is at epoch 1 now
        event(ids.c1, ids.party, { epoch: 1 }), // accepted: the welcome above let the party in
        event(ids.c1, ids.m1, { epoch: 1, after: { seq: 2, hash: "0".repeat(64) } }), // head_moved
        event(ids.c2, ids.m1), // another caucus: its own seq 1
        event(ids.c2, ids.party), // not a member there: not_found
      ];

      // One at a time, in a storage of its own, under the same ids.
      const alone = await backend.create();
      const one = await alone.open();
      const expected: Outcome[] = [];
      try {
        await sameCaucuses(one);
        await one.appendEvent(first);
        for (const e of batch) {
          const [settled] = await Promise.allSettled([one.appendEvent(e)]);
          expected.push(outcome(settled));
        }
        // All at once, here.
        await sameCaucuses(s);
        await s.appendEvent(first);
        const together = (await Promise.allSettled(batch.map((e) => s.appendEvent(e)))).map(outcome);

        expect(together).toEqual(expected);
        expect(together.map((o) => ("error" in o ? o.error : o.seq))).toEqual([
          2,
          1,
          "event_id_conflict",
          3,
          "epoch_conflict",
          "stale_epoch",
          4,
          "head_moved",
          1,
          "not_found",
        ]);
        expect(together[1]).toMatchObject({ duplicate: true });
        // The same transcripts, heads, epochs and memberships: refused appends left no trace.
        for (const caucusId of [ids.c1, ids.c2]) {
          const page = { afterSeq: 0, limit: 100, maxBytes: 1e9 };
          expect(await s.listEvents(caucusId, page)).toEqual(await one.listEvents(caucusId, page));
          expect(await s.getCaucus(caucusId)).toEqual(await one.getCaucus(caucusId));
          expect(await s.listMembers(caucusId)).toEqual(await one.listMembers(caucusId));
        }
        expect(await s.getCaucus(ids.c1)).toMatchObject({ epoch: 1, head: { seq: 4 } });
        expect(await s.getWelcome(ids.c1, ids.party)).toMatchObject({ welcome, seq: 3 });
      } finally {
        await one.close();
        await alone.cleanup();
      }
    });

    it("a run of concurrent appends to one caucus is gap-free and chains in call order", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const sent = Array.from({ length: 50 }, () => event(caucusId, mediator));
      const results = await Promise.all(sent.map((e) => s.appendEvent(e)));
      expect(results.map((r) => r.seq)).toEqual(sent.map((_, i) => i + 1));
      const events = await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 });
      expect(events.map((e) => e.eventId)).toEqual(sent.map((e) => e.eventId));
      expect(
        extendChain(
          { seq: 0, hash: genesisHash(caucusId) },
          events.map((e) => ({ ...e, caucusId })),
        ),
      ).toEqual({ ok: true, head: { seq: 50, hash: results[49]!.hash } });
    });

    it("appends still waiting when the storage closes are committed, not lost", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const sent = [event(caucusId, mediator), event(caucusId, mediator)];
      const pending = sent.map((e) => s.appendEvent(e));
      await s.close();
      expect((await Promise.all(pending)).map((r) => r.seq)).toEqual([1, 2]);
      await reopen();
      expect(
        (await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 })).map((e) => e.eventId),
      ).toEqual(sent.map((e) => e.eventId));
    });
  });

  describe("welcomes and removals", () => {
    it("joins a pending device from the event after its commit and stores its welcome there", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      await s.appendEvent(event(caucusId, mediator)); // seq 1, before the party exists
      const { party } = await pendingParty(caucusId);
      const welcome = randomB64(80);
      const commit = await s.appendEvent(
        event(caucusId, mediator, { kind: "commit", welcomes: [{ deviceId: party, welcome }] }),
      );
      expect(commit.seq).toBe(2);
      const m = await s.getMembership(caucusId, party);
      expect(m).toMatchObject({ joined: true, fromSeq: 3, removed: false });
      expect(m!.keyPackage).toBeUndefined();
      expect(await s.getWelcome(caucusId, party)).toEqual({
        caucusId,
        deviceId: party,
        welcome,
        seq: 2,
        hash: commit.hash,
      });
      expect(await s.getWelcome(caucusId, mediator)).toBeUndefined();
    });

    it("refuses a welcome for a device that is not waiting in this caucus, changing nothing", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const other = await caucusWithMediator();
      const { party: elsewhere } = await pendingParty(other.caucusId);
      const { party: joined } = await joinedParty(caucusId, mediator);
      const { party: pending } = await pendingParty(caucusId);
      const before = await s.getCaucus(caucusId);

      for (const target of [elsewhere, joined, mediator, crypto.randomUUID()]) {
        await expect(
          s.appendEvent(
            event(caucusId, mediator, {
              kind: "commit",
              epoch: 1,
              welcomes: [
                { deviceId: pending, welcome: randomB64(10) },
                { deviceId: target, welcome: randomB64(10) },
              ],
            }),
          ),
        ).rejects.toMatchObject({ code: "invalid_request" });
      }
      expect(await s.getCaucus(caucusId)).toEqual(before);
      expect(await s.getMembership(caucusId, pending)).toMatchObject({ joined: false });
      expect(await s.getWelcome(caucusId, pending)).toBeUndefined();
      expect(await s.getMembership(other.caucusId, elsewhere)).toMatchObject({ joined: false });
    });

    it("names each new event's readers: joined members, from the event after their welcome, until removed", async () => {
      const [m1, m2] = [crypto.randomUUID(), crypto.randomUUID()];
      for (const deviceId of [m1, m2])
        await s.createDevice({ deviceId, role: "mediator", authPublicKey: randomB64(32) });
      const channelId = crypto.randomUUID();
      const caucusId = crypto.randomUUID();
      await s.createChannel({ channelId, mediatorDeviceIds: [m1, m2] });
      await s.createCaucus({ caucusId, channelId, creatorDeviceId: m1 }); // m2 waits to be added
      const { party: p1 } = await pendingParty(caucusId);
      const { party: p2 } = await pendingParty(caucusId);
      const welcome = (deviceId: string) => ({ deviceId, welcome: randomB64(10) });

      const appends: [AppendEventInput, string[]][] = [
        [event(caucusId, m1), [m1]],
        [event(caucusId, m1, { kind: "commit", welcomes: [welcome(p1), welcome(m2)] }), [m1]],
        [event(caucusId, p1, { epoch: 1 }), [m1, m2, p1]],
        [event(caucusId, m2, { kind: "commit", epoch: 1, welcomes: [welcome(p2)], removes: [p1] }), [m1, m2]],
        [event(caucusId, p2, { epoch: 2 }), [m1, m2, p2]],
      ];
      for (const [input, readers] of appends) {
        const result = await s.appendEvent(input);
        // The mediators' memberships are in device id order (createCaucus): compare as sets here.
        expect([...result.readers].sort()).toEqual([...readers].sort());
        // And in order against the rule the relay applied to every membership before appends
        // named their readers.
        const members = await s.listMembers(caucusId);
        expect(result.readers).toEqual(
          members.filter((m) => m.joined && !m.removed && m.fromSeq <= result.seq).map((m) => m.deviceId),
        );
      }
      expect(await s.appendEvent(appends[0]![0])).toMatchObject({ duplicate: true, readers: [] });
    });

    it("removes party members, who then lose all access", async () => {
      const { caucusId, mediator } = await caucusWithMediator();
      const { party } = await joinedParty(caucusId, mediator);
      await expect(
        s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 1, removes: [mediator] })),
      ).rejects.toMatchObject({ code: "invalid_request" });

      await s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 1, removes: [party] }));
      expect(await s.getMembership(caucusId, party)).toMatchObject({ removed: true });
      expect(await s.listMemberships(party)).toEqual([]);
      await expect(s.appendEvent(event(caucusId, party, { epoch: 2 }))).rejects.toMatchObject({
        code: "not_found",
      });
      await expect(
        s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 2, removes: [party] })),
      ).rejects.toMatchObject({ code: "invalid_request" });
    });
  });

  describe("the mediator's devices (staff)", () => {
    const newMediator = async () => {
      const d = crypto.randomUUID();
      await s.createDevice({ deviceId: d, role: "mediator", authPublicKey: randomB64(32) });
      return d;
    };
    const redeem = (linkId: string, deviceId = crypto.randomUUID()) =>
      s.redeemMediatorLink({ linkId, deviceId, authPublicKey: randomB64(32) });
    async function linked(by: string) {
      const linkId = crypto.randomUUID();
      await s.createMediatorLink({ linkId, linkPublicKey: randomB64(32), createdBy: by });
      const deviceId = crypto.randomUUID();
      const { caucusIds } = await redeem(linkId, deviceId);
      return { deviceId, linkId, caucusIds };
    }

    it("a mediator device starts as its mediator's only device; a party device belongs to none", async () => {
      const { mediator, caucusId } = await caucusWithMediator();
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator]);
      const { party } = await joinedParty(caucusId, mediator);
      expect(await s.listMediatorDevices(party)).toEqual([]);
      expect(await s.listMediatorDevices(crypto.randomUUID())).toEqual([]);
    });

    it("a link is one-time: the device joins the linker's mediator, channels and (pending) caucuses", async () => {
      const { mediator, channelId, caucusId } = await caucusWithMediator();
      const second = crypto.randomUUID();
      await s.createCaucus({ caucusId: second, channelId });
      const elsewhere = await caucusWithMediator(); // another mediator's channel
      const linkId = crypto.randomUUID();
      const link = { linkId, linkPublicKey: randomB64(32), createdBy: mediator };
      await s.createMediatorLink(link);
      await s.createMediatorLink(link); // a retry
      expect(await s.getMediatorLink(linkId)).toEqual({ ...link, used: false });

      const staff = crypto.randomUUID();
      expect(await redeem(linkId, staff)).toEqual({ caucusIds: [caucusId, second] });
      expect(await s.getMediatorLink(linkId)).toMatchObject({ used: true });
      expect(await s.getDevice(staff)).toMatchObject({ role: "mediator" });
      expect(await s.listMediatorDevices(staff)).toEqual([mediator, staff]);
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator, staff]);
      expect(await s.listChannels(staff)).toEqual([
        { channelId, mediatorDeviceIds: [mediator, staff], caucusIds: [caucusId, second] },
      ]);
      for (const c of [caucusId, second])
        expect(await s.getMembership(c, staff)).toEqual({
          caucusId: c,
          channelId,
          deviceId: staff,
          role: "mediator",
          joined: false,
          fromSeq: 0,
          removed: false,
        });
      expect(await s.getMembership(elsewhere.caucusId, staff)).toBeUndefined();

      // Second redemption: refused, nothing registered; retrying the creation now fails too.
      const other = crypto.randomUUID();
      await expect(redeem(linkId, other)).rejects.toMatchObject({ code: "invite_used" });
      expect(await s.getDevice(other)).toBeUndefined();
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator, staff]);
      await expect(s.createMediatorLink(link)).rejects.toMatchObject({ code: "invite_invalid" });

      // Devices linked later by the new device join the same mediator.
      const third = await linked(staff);
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator, staff, third.deviceId]);
      expect(third.caucusIds).toEqual([caucusId, second]);
    });

    it("refuses an unknown link, a reused link id, a link by a party device, and a taken device id", async () => {
      const { mediator, caucusId } = await caucusWithMediator();
      await expect(redeem(crypto.randomUUID())).rejects.toMatchObject({ code: "invite_invalid" });
      const linkId = crypto.randomUUID();
      await s.createMediatorLink({ linkId, linkPublicKey: randomB64(32), createdBy: mediator });
      await expect(
        s.createMediatorLink({ linkId, linkPublicKey: randomB64(32), createdBy: mediator }),
      ).rejects.toMatchObject({ code: "invite_invalid", status: 409 });
      const { party } = await joinedParty(caucusId, mediator);
      await expect(
        s.createMediatorLink({ linkId: crypto.randomUUID(), linkPublicKey: randomB64(32), createdBy: party }),
      ).rejects.toMatchObject({ code: "not_found" });
      await expect(redeem(linkId, party)).rejects.toMatchObject({ code: "device_exists" });
      expect(await s.getMediatorLink(linkId)).toMatchObject({ used: false });
      expect(await s.getDevice(party)).toMatchObject({ role: "party" });
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator]);
    });

    it("a caucus made by one device: it is joined from seq 1, the channel's other devices wait", async () => {
      const { mediator, channelId } = await caucusWithMediator();
      const staff = (await linked(mediator)).deviceId;
      const caucusId = crypto.randomUUID();
      await s.createCaucus({ caucusId, channelId, creatorDeviceId: staff });
      expect(await s.getMembership(caucusId, staff)).toMatchObject({ joined: true, fromSeq: 1 });
      expect(await s.getMembership(caucusId, mediator)).toMatchObject({ joined: false, fromSeq: 0 });
      // A creator that does not mediate the channel: nothing is made.
      const stranger = await newMediator();
      const refused = crypto.randomUUID();
      await expect(
        s.createCaucus({ caucusId: refused, channelId, creatorDeviceId: stranger }),
      ).rejects.toMatchObject({ code: "not_found" });
      expect(await s.getCaucus(refused)).toBeUndefined();
    });

    it("stores a key package only for a pending mediator member; its welcome drops it", async () => {
      const { mediator, caucusId } = await caucusWithMediator();
      const staff = (await linked(mediator)).deviceId;
      const { party: pending } = await pendingParty(caucusId);
      const stranger = await newMediator();
      for (const [device, caucus] of [
        [mediator, caucusId], // joined
        [pending, caucusId], // a party
        [stranger, caucusId], // not a member
        [staff, crypto.randomUUID()], // no such caucus
      ] as const) {
        await expect(s.putMediatorKeyPackage(caucus, device, randomB64(40))).rejects.toMatchObject({
          code: "not_found",
        });
      }
      await s.putMediatorKeyPackage(caucusId, staff, randomB64(40));
      const keyPackage = randomB64(40);
      await s.putMediatorKeyPackage(caucusId, staff, keyPackage); // replaces
      expect(await s.getMembership(caucusId, staff)).toMatchObject({ joined: false, keyPackage });
      expect((await s.getMembership(caucusId, mediator))!.keyPackage).toBeUndefined();

      const commit = await s.appendEvent(
        event(caucusId, mediator, {
          kind: "commit",
          welcomes: [{ deviceId: staff, welcome: randomB64(50) }],
        }),
      );
      const m = await s.getMembership(caucusId, staff);
      expect(m).toMatchObject({ joined: true, fromSeq: commit.seq + 1 });
      expect(m!.keyPackage).toBeUndefined();
      await expect(s.putMediatorKeyPackage(caucusId, staff, keyPackage)).rejects.toMatchObject({
        code: "not_found",
      });
    });

    it("commits remove a joined mediator device, never the sender; a party still never commits", async () => {
      const { mediator, caucusId } = await caucusWithMediator();
      const staff = (await linked(mediator)).deviceId;
      const waiting = (await linked(mediator)).deviceId;
      const { party } = await joinedParty(caucusId, mediator);
      await s.appendEvent(
        event(caucusId, mediator, {
          kind: "commit",
          epoch: 1,
          welcomes: [{ deviceId: staff, welcome: randomB64(50) }],
        }),
      );
      const before = await s.getCaucus(caucusId);
      for (const removes of [[staff], [mediator], [waiting]]) {
        const sender = removes[0] === staff ? party : removes[0] === mediator ? mediator : staff;
        await expect(
          s.appendEvent(event(caucusId, sender, { kind: "commit", epoch: 2, removes })),
        ).rejects.toMatchObject({ code: sender === party ? "forbidden" : "invalid_request" });
      }
      // The staff device cannot remove itself either, nor the last other device along with itself.
      await expect(
        s.appendEvent(event(caucusId, staff, { kind: "commit", epoch: 2, removes: [mediator, staff] })),
      ).rejects.toMatchObject({ code: "invalid_request" });
      expect(await s.getCaucus(caucusId)).toEqual(before);

      await s.appendEvent(event(caucusId, staff, { kind: "commit", epoch: 2, removes: [mediator] }));
      expect(await s.getMembership(caucusId, mediator)).toMatchObject({ removed: true });
      await expect(s.appendEvent(event(caucusId, mediator, { epoch: 3 }))).rejects.toMatchObject({
        code: "not_found",
      });
      expect(
        (await s.listMembers(caucusId)).filter((m) => m.role === "mediator" && m.joined && !m.removed),
      ).toEqual([expect.objectContaining({ deviceId: staff })]);
    });

    it("removing a device: only by another current device of the same mediator, once no caucus holds it", async () => {
      const { mediator, channelId, caucusId } = await caucusWithMediator();
      const staff = (await linked(mediator)).deviceId;
      const joinedStaff = (await linked(mediator)).deviceId;
      await s.putMediatorKeyPackage(caucusId, joinedStaff, randomB64(40));
      await s.appendEvent(
        event(caucusId, mediator, {
          kind: "commit",
          welcomes: [{ deviceId: joinedStaff, welcome: randomB64(50) }],
        }),
      );
      const unused = crypto.randomUUID();
      await s.createMediatorLink({ linkId: unused, linkPublicKey: randomB64(32), createdBy: staff });
      const other = await caucusWithMediator();

      for (const [by, target] of [
        [staff, staff], // itself
        [other.mediator, staff], // another mediator's device
        [staff, other.mediator],
        [staff, crypto.randomUUID()],
      ] as const) {
        await expect(s.removeMediatorDevice({ byDeviceId: by, deviceId: target })).rejects.toMatchObject({
          code: "not_found",
        });
      }
      await expect(
        s.removeMediatorDevice({ byDeviceId: staff, deviceId: joinedStaff }),
      ).rejects.toMatchObject({
        code: "still_member",
        status: 409,
      });
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator, staff, joinedStaff]);

      expect(await s.removeMediatorDevice({ byDeviceId: mediator, deviceId: staff })).toEqual({
        droppedCaucusIds: [caucusId],
      });
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator, joinedStaff]);
      expect(await s.listMediatorDevices(staff)).toEqual([staff]);
      expect(await s.listChannels(staff)).toEqual([]);
      expect((await s.getChannel(channelId))!.mediatorDeviceIds).toEqual([mediator, joinedStaff]);
      expect(await s.getMembership(caucusId, staff)).toMatchObject({ removed: true, joined: false });
      expect(await s.listMemberships(staff)).toEqual([]);
      // Its unused link is void; it can no longer act for the mediator.
      await expect(redeem(unused)).rejects.toMatchObject({ code: "invite_used" });
      await expect(
        s.removeMediatorDevice({ byDeviceId: staff, deviceId: joinedStaff }),
      ).rejects.toMatchObject({
        code: "not_found",
      });
      // Once a commit removed it, the joined one can go too.
      await s.appendEvent(event(caucusId, mediator, { kind: "commit", epoch: 1, removes: [joinedStaff] }));
      expect(await s.removeMediatorDevice({ byDeviceId: mediator, deviceId: joinedStaff })).toEqual({
        droppedCaucusIds: [],
      });
      expect(await s.listMediatorDevices(mediator)).toEqual([mediator]);
    });

    it("new channels are opened with every current device of the mediator", async () => {
      // What the relay's channel route does with listMediatorDevices; kept here as the contract.
      const { mediator } = await caucusWithMediator();
      const staff = (await linked(mediator)).deviceId;
      const channelId = crypto.randomUUID();
      await s.createChannel({ channelId, mediatorDeviceIds: await s.listMediatorDevices(staff) });
      const caucusId = crypto.randomUUID();
      await s.createCaucus({ caucusId, channelId, creatorDeviceId: staff });
      const members = (await s.listMembers(caucusId)).map((m) => [m.deviceId, m.joined, m.fromSeq]);
      expect(members).toHaveLength(2);
      expect(members).toEqual(
        expect.arrayContaining([
          [mediator, false, 0],
          [staff, true, 1],
        ]),
      );
    });
  });

  it("finds everything again after the database is reopened", async () => {
    const { caucusId, mediator, channelId } = await caucusWithMediator();
    const { party, commit } = await joinedParty(caucusId, mediator);
    const { party: pending, inviteId } = await pendingParty(caucusId);
    const app = await s.appendEvent(event(caucusId, party, { epoch: 1 }));
    await s.createSession({ tokenHash: "c".repeat(64), deviceId: party, expiresAt: 5 });
    const linkId = crypto.randomUUID();
    await s.createMediatorLink({ linkId, linkPublicKey: randomB64(32), createdBy: mediator });
    const staff = crypto.randomUUID();
    await s.redeemMediatorLink({ linkId, deviceId: staff, authPublicKey: randomB64(32) });
    const snapshot = {
      link: await s.getMediatorLink(linkId),
      staff: await s.listMediatorDevices(staff),
      caucus: await s.getCaucus(caucusId),
      events: await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 }),
      members: await s.listMembers(caucusId),
      welcome: await s.getWelcome(caucusId, party),
      channels: await s.listChannels(mediator),
      invite: await s.getInvite(inviteId),
      device: await s.getDevice(pending),
    };
    expect(snapshot.events).toHaveLength(2);
    expect(snapshot.caucus).toMatchObject({ channelId, epoch: 1, head: { seq: 2, hash: app.hash } });
    expect(snapshot.welcome).toMatchObject({ seq: commit.seq });

    await s.close();
    await reopen();
    expect({
      link: await s.getMediatorLink(linkId),
      staff: await s.listMediatorDevices(staff),
      caucus: await s.getCaucus(caucusId),
      events: await s.listEvents(caucusId, { afterSeq: 0, limit: 100, maxBytes: 1e9 }),
      members: await s.listMembers(caucusId),
      welcome: await s.getWelcome(caucusId, party),
      channels: await s.listChannels(mediator),
      invite: await s.getInvite(inviteId),
      device: await s.getDevice(pending),
    }).toEqual(snapshot);
    expect(await s.getSession("c".repeat(64))).toMatchObject({ deviceId: party });
    // And the chain continues where it left off.
    expect(await s.appendEvent(event(caucusId, mediator, { epoch: 1 }))).toMatchObject({ seq: 3 });
  });
});
