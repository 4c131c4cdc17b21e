import { describe, expect, it } from "vitest";
import { appendInput as event, randomB64 } from "../test-helpers.js";
import type { PutBlobInput, Storage } from "./storage.js";
import { useStorage } from "./storage-fixtures.js";
import { backends } from "./test-backends.js";

describe.each(backends)("storage: $name", (backend) => {
  let s: Storage;
  const { caucusWithMediator } = useStorage(backend, (opened) => (s = opened));

  describe("attachment blobs", () => {
    const T0 = 1_700_000_000_000;
    const DAY = 86_400_000;

    // No member's commit yet: the caucus holds no ciphertext before its blobs.
    const caucus = (retentionDays?: number) => caucusWithMediator(retentionDays);
    /** `bytes` bytes in pieces of 700 (a row of PostgreSQL's holds several, a blob several rows). */
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* pieces(bytes: number, fill = 7) {
      for (let at = 0; at < bytes; at += 700) yield new Uint8Array(Math.min(700, bytes - at)).fill(fill);
    }
    const blob = (caucusId: string, bytes: number, extra: Partial<PutBlobInput> = {}): PutBlobInput => ({
      caucusId,
      blobId: crypto.randomUUID(),
      bytes,
      body: pieces(bytes),
      ...extra,
    });
    async function read(caucusId: string, blobId: string) {
      const b = await s.openBlob(caucusId, blobId);
      if (!b) return undefined;
      const chunks: Uint8Array[] = [];
      for await (const c of b.body) chunks.push(c);
      return { bytes: b.bytes, data: Buffer.concat(chunks) };
    }

    it("stores a streamed blob and gives it back, in its caucus only", async () => {
      const { caucusId } = await caucus();
      const other = await caucus();
      const input = blob(caucusId, 2_500_000);
      await s.putBlob(input);
      const back = await read(caucusId, input.blobId);
      expect(back?.bytes).toBe(2_500_000);
      expect(back?.data.equals(Buffer.alloc(2_500_000, 7))).toBe(true);
      expect(await s.openBlob(other.caucusId, input.blobId)).toBeUndefined();
      await expect(s.putBlob({ ...input, body: pieces(input.bytes) })).rejects.toMatchObject({
        code: "invalid_request",
        status: 409,
      });
    });

    it("counts a blob against the quota before reading it: over it, quota_exceeded and nothing stored", async () => {
      const { caucusId, mediator } = await caucus();
      const quota = { caucusBytes: 10_000, channelBytes: 100_000 };
      await s.putBlob(blob(caucusId, 6_000, { quota }));
      // eslint-disable-next-line @typescript-eslint/require-await
      async function* untouched(): AsyncGenerator<Uint8Array> {
        throw new Error("read a refused body");
      }
      const refused = blob(caucusId, 5_000, { quota, body: untouched() });
      await expect(s.putBlob(refused)).rejects.toMatchObject({ code: "quota_exceeded" });
      expect(await s.openBlob(caucusId, refused.blobId)).toBeUndefined();
      // The 6,000 bytes count for appends too: 4,000 more fit, 4,001 do not.
      const epoch = (await s.getCaucus(caucusId))!.epoch;
      const post = (n: number) =>
        s.appendEvent(event(caucusId, mediator, { epoch, ciphertext: randomB64(n), quota }));
      await expect(post(4_001)).rejects.toMatchObject({ code: "quota_exceeded" });
      await expect(post(4_000)).resolves.toMatchObject({ duplicate: false });
    });

    it("a body longer or shorter than announced is refused and leaves nothing stored or counted", async () => {
      const { caucusId } = await caucus();
      const quota = { caucusBytes: 3_000, channelBytes: 100_000 };
      for (const [bytes, sent] of [
        [2_000, 2_001],
        [2_000, 1_999],
      ] as const) {
        const input = blob(caucusId, bytes, { quota, body: pieces(sent) });
        await expect(s.putBlob(input)).rejects.toMatchObject({ code: "invalid_request" });
        expect(await s.openBlob(caucusId, input.blobId)).toBeUndefined();
      }
      await s.putBlob(blob(caucusId, 3_000, { quota }));
    });

    it("a closed channel takes no blob; retention deletes a blob with the events after it", async () => {
      const { caucusId, channelId, mediator } = await caucus(1);
      const kept = blob(caucusId, 1_000);
      await s.putBlob(kept);
      const epoch = (await s.getCaucus(caucusId))!.epoch;
      await s.appendEvent(event(caucusId, mediator, { epoch }));
      await s.sweepRetention(T0);
      await s.sweepRetention(T0 + DAY);
      expect(await s.openBlob(caucusId, kept.blobId)).toBeUndefined();
      // What it held is free again.
      await s.putBlob(blob(caucusId, 2_000, { quota: { caucusBytes: 2_000, channelBytes: 2_000 } }));

      await s.closeChannel(channelId, T0 + 2 * DAY);
      await expect(s.putBlob(blob(caucusId, 10))).rejects.toMatchObject({ code: "channel_closed" });
    });
  });
});
