import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ciphertextOf, extendChain, genesisHash } from "../../protocol/index.js";
import { appendInput as event, newDevice, randomB64 } from "../test-helpers.js";
import type { AppendEventInput, Storage } from "./storage.js";
import { useStorage } from "./storage-fixtures.js";
import { backends } from "./test-backends.js";

describe.each(backends)("storage: $name", (backend) => {
  let s: Storage;
  const { joinedParty, pendingParty, openAnother } = useStorage(backend, (opened) => (s = opened));

  describe("retention and closed channels", () => {
    const DAY = 86_400_000;
    const T0 = 1_700_000_000_000;
    const page = { afterSeq: 0, limit: 100, maxBytes: 1e9 };
    const sha256 = (b64: string) => createHash("sha256").update(Buffer.from(b64, "base64url")).digest("hex");

    /** A channel kept `retentionDays`, a caucus with a party, and `n` messages from the mediator. */
    async function retainedCaucus(retentionDays: number | undefined, n: number) {
      const mediator = newDevice().deviceId;
      await s.createDevice({ deviceId: mediator, role: "mediator", authPublicKey: randomB64(32) });
      const channelId = crypto.randomUUID();
      const caucusId = crypto.randomUUID();
      await s.createChannel({
        channelId,
        mediatorDeviceIds: [mediator],
        ...(retentionDays ? { retentionDays } : {}),
      });
      await s.createCaucus({ caucusId, channelId });
      const { party } = await joinedParty(caucusId, mediator);
      const sent: AppendEventInput[] = [];
      for (let i = 0; i < n; i++) sent.push(await append(caucusId, mediator));
      return { mediator, channelId, caucusId, party, sent };
    }
    async function append(caucusId: string, sender: string) {
      const input = event(caucusId, sender, { epoch: (await s.getCaucus(caucusId))!.epoch });
      await s.appendEvent(input);
      return input;
    }
    const verifies = async (caucusId: string) =>
      extendChain(
        { seq: 0, hash: genesisHash(caucusId) },
        (await s.listEvents(caucusId, page)).map((e) => ({ ...e, caucusId })),
      ).ok;

    it("a tombstone's bytes no longer count against the caucus's quota", async () => {
      const { caucusId, mediator, sent } = await retainedCaucus(1, 2);
      const bytes = (b64: string) => Buffer.from(b64, "base64url").length;
      const stored = (await s.listEvents(caucusId, page)).reduce((n, e) => n + bytes(ciphertextOf(e)!), 0);
      const deleted = sent.reduce((n, e) => n + bytes(e.ciphertext), 0);
      // A quota the caucus has exactly filled.
      const quota = { caucusBytes: stored, channelBytes: 10 * stored };
      const post = (n: number) =>
        s.appendEvent(event(caucusId, mediator, { epoch: sent[0]!.epoch, ciphertext: randomB64(n), quota }));
      await expect(post(1)).rejects.toMatchObject({ code: "quota_exceeded" });

      await s.sweepRetention(T0);
      expect(await s.sweepRetention(T0 + DAY)).toMatchObject({ tombstoned: 2 });
      // What the two messages held is free again, and not a byte more.
      expect(await post(deleted)).toMatchObject({ duplicate: false });
      await expect(post(1)).rejects.toMatchObject({ code: "quota_exceeded" });
    });

    it("tombstones application messages once a mark is retentionDays old; the chain still verifies", async () => {
      const { caucusId, channelId, sent, mediator } = await retainedCaucus(1, 2);
      const before = await s.listEvents(caucusId, page);
      expect(await s.getChannel(channelId)).toMatchObject({ retentionDays: 1 });

      // The first pass only marks where the head stands (seq 3: the commit and two messages).
      expect(await s.sweepRetention(T0)).toEqual({ marked: 1, tombstoned: 0 });
      const later = await append(caucusId, mediator);
      expect(await s.sweepRetention(T0 + DAY - 1)).toMatchObject({ tombstoned: 0 });

      expect(await s.sweepRetention(T0 + DAY)).toMatchObject({ tombstoned: 2 });
      const after = await s.listEvents(caucusId, page);
      // The commit stays whole; both messages are tombstones with their hash, sha256 and size.
      expect(after[0]).toEqual(before[0]);
      for (const [i, input] of sent.entries()) {
        expect(after[i + 1]).toEqual({
          seq: before[i + 1]!.seq,
          eventId: input.eventId,
          senderDeviceId: mediator,
          kind: "application",
          epoch: input.epoch,
          hash: before[i + 1]!.hash,
          tombstone: true,
          ciphertextSha256: sha256(input.ciphertext),
          ciphertextBytes: Buffer.from(input.ciphertext, "base64url").length,
        });
      }
      // The message appended after the mark is not due yet.
      expect(ciphertextOf(after[3]!)).toBe(later.ciphertext);
      expect(await verifies(caucusId)).toBe(true);
      expect(await s.getCaucus(caucusId)).toMatchObject({ deletedThrough: 3, closed: false });

      // Idempotent: nothing more to do at the same time.
      expect(await s.sweepRetention(T0 + DAY)).toMatchObject({ tombstoned: 0 });
      // A channel without retention is never touched.
      const kept = await retainedCaucus(undefined, 1);
      await s.sweepRetention(T0 + 10 * DAY);
      expect((await s.listEvents(kept.caucusId, page)).every((e) => ciphertextOf(e) !== undefined)).toBe(
        true,
      );
    });

    it("several sweepers at once do the work once, in batches", async () => {
      const { caucusId } = await retainedCaucus(2, 7);
      await s.sweepRetention(T0);
      const other = await openAnother();
      try {
        const passes = await Promise.all(
          [s, other, s, other].map((x) => x.sweepRetention(T0 + 2 * DAY, { batch: 3 })),
        );
        let total = passes.reduce((n, p) => n + p.tombstoned, 0);
        while (total < 7) total += (await s.sweepRetention(T0 + 2 * DAY, { batch: 3 })).tombstoned;
        expect(total).toBe(7);
      } finally {
        await other.close();
      }
      const events = await s.listEvents(caucusId, page);
      expect(events.filter((e) => "tombstone" in e)).toHaveLength(7);
      expect(await verifies(caucusId)).toBe(true);
    });

    it("a closed channel refuses appends and new caucuses, then loses its messages at deleteAt", async () => {
      const { caucusId, channelId, mediator, party, sent } = await retainedCaucus(undefined, 2);
      const pending = await pendingParty(caucusId);
      // A Welcome for a device that never fetched it.
      const { party: late } = await joinedParty(caucusId, mediator);
      await s.closeChannel(channelId, T0 + DAY);
      await s.closeChannel(channelId, T0 + 5 * DAY); // the first deleteAt stands
      expect(await s.getChannel(channelId)).toMatchObject({ deleteAt: T0 + DAY });
      expect(await s.getCaucus(caucusId)).toMatchObject({ closed: true });

      const epoch = (await s.getCaucus(caucusId))!.epoch;
      await expect(s.appendEvent(event(caucusId, party, { epoch }))).rejects.toMatchObject({
        code: "channel_closed",
      });
      // A retry of an event stored before the close still gets its answer.
      await expect(s.appendEvent(sent[0]!)).resolves.toMatchObject({ seq: 2, duplicate: true });
      await expect(s.createCaucus({ caucusId: crypto.randomUUID(), channelId })).rejects.toMatchObject({
        code: "channel_closed",
      });
      await expect(s.closeChannel(crypto.randomUUID(), T0)).rejects.toMatchObject({ code: "not_found" });

      expect(await s.sweepRetention(T0 + DAY - 1)).toMatchObject({ tombstoned: 0 });
      expect(await s.sweepRetention(T0 + DAY)).toMatchObject({ tombstoned: 2 });
      const events = await s.listEvents(caucusId, page);
      expect(events.filter((e) => e.kind === "application").every((e) => "tombstone" in e)).toBe(true);
      expect(events.filter((e) => e.kind === "commit").every((e) => ciphertextOf(e) !== undefined)).toBe(
        true,
      );
      expect(await verifies(caucusId)).toBe(true);
      expect(await s.getWelcome(caucusId, late)).toBeUndefined();
      expect((await s.getMembership(caucusId, pending.party))?.keyPackage).toBeUndefined();
    });

    describe("a sender's deletion time (rule 8)", () => {
      const HOUR = 3_600_000;
      const at = (ms: number) => new Date(ms).toISOString();
      /** The first whole hour after T0. */
      const H = T0 - (T0 % HOUR) + HOUR;

      it("tombstones a message once its deletion time passes, whatever the channel's retention", async () => {
        const { caucusId, mediator, sent } = await retainedCaucus(undefined, 1);
        const epoch = sent[0]!.epoch;
        const expiring = event(caucusId, mediator, { epoch, deleteAt: at(H), now: T0 });
        await s.appendEvent(expiring);
        const kept = await append(caucusId, mediator);
        const before = await s.listEvents(caucusId, page);
        // The envelope carries it, and the chain's hash covers it.
        expect(before[2]).toMatchObject({ eventId: expiring.eventId, deleteAt: at(H) });
        expect(await verifies(caucusId)).toBe(true);
        // A quota the caucus has exactly filled: the deleted bytes are credited back.
        const bytes = (b64: string) => Buffer.from(b64, "base64url").length;
        const stored = before.reduce((n, e) => n + bytes(ciphertextOf(e)!), 0);
        const quota = { caucusBytes: stored, channelBytes: 10 * stored };
        const post = (n: number) =>
          s.appendEvent(event(caucusId, mediator, { epoch, ciphertext: randomB64(n), quota }));
        await expect(post(1)).rejects.toMatchObject({ code: "quota_exceeded" });

        expect(await s.sweepRetention(H - 1)).toMatchObject({ tombstoned: 0 });
        expect(await s.sweepRetention(H)).toMatchObject({ tombstoned: 1 });
        const after = await s.listEvents(caucusId, page);
        expect(after[2]).toEqual({
          ...before[2],
          ciphertext: undefined,
          tombstone: true,
          ciphertextSha256: sha256(expiring.ciphertext),
          ciphertextBytes: bytes(expiring.ciphertext),
        });
        expect("ciphertext" in after[2]!).toBe(false);
        // The others keep their bytes; the chain verifies; deletedThrough (a prefix) is untouched.
        expect(ciphertextOf(after[1]!)).toBe(sent[0]!.ciphertext);
        expect(ciphertextOf(after[3]!)).toBe(kept.ciphertext);
        expect(await verifies(caucusId)).toBe(true);
        expect(await s.getCaucus(caucusId)).toMatchObject({ deletedThrough: 0 });
        expect(await s.sweepRetention(T0 + 10 * HOUR)).toMatchObject({ tombstoned: 0 });
        expect(await post(bytes(expiring.ciphertext))).toMatchObject({ duplicate: false });
        await expect(post(1)).rejects.toMatchObject({ code: "quota_exceeded" });
        // A retry of the stored event gets its answer, though its deletion time has passed.
        await expect(s.appendEvent({ ...expiring, now: T0 + 2 * HOUR })).resolves.toMatchObject({
          seq: 3,
          duplicate: true,
        });
      });

      it("refuses a malformed, past or misplaced deletion time (delete_at_invalid) and changes nothing", async () => {
        const { caucusId, mediator, sent } = await retainedCaucus(undefined, 1);
        const epoch = sent[0]!.epoch;
        const head = (await s.getCaucus(caucusId))!.head;
        for (const over of [
          { deleteAt: "tomorrow" },
          { deleteAt: at(H + 60_000) }, // not an exact hour
          { deleteAt: at(H).replace(".000Z", "Z") }, // an hour, spelt otherwise
          { deleteAt: at(H - HOUR) }, // the hour now is in: past
          { deleteAt: at(H + 3651 * DAY) }, // more than ten years on
          { deleteAt: at(H), kind: "commit" as const }, // on a commit
        ])
          await expect(
            s.appendEvent(event(caucusId, mediator, { epoch, now: T0, ...over })),
            JSON.stringify(over),
          ).rejects.toMatchObject({ code: "delete_at_invalid" });
        expect((await s.getCaucus(caucusId))!.head).toEqual(head);
        expect(await s.listEvents(caucusId, page)).toHaveLength(2);
      });
    });

    it("retention can be set, changed and lifted on an existing channel", async () => {
      const { channelId } = await retainedCaucus(undefined, 0);
      await s.setChannelRetention(channelId, 30);
      expect(await s.getChannel(channelId)).toMatchObject({ retentionDays: 30 });
      await s.setChannelRetention(channelId, null);
      expect((await s.getChannel(channelId))?.retentionDays).toBeUndefined();
      await expect(s.setChannelRetention(crypto.randomUUID(), 1)).rejects.toMatchObject({
        code: "not_found",
      });
    });
  });
});
