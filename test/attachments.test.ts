import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ApiError, SdkError, type FileSource } from "../src/sdk/index.js";
import { saveAttachment } from "../src/sdk/node.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * Issue 12, item 2: files attached to a signal are encrypted on the device, stored by the relay as
 * opaque blobs (streamed, padded, counted against the quota), readable by members only, and
 * checked against their hash when fetched.
 */
const MiB = 1024 * 1024;
const MARKER = Buffer.from("ATTACHMENT-MARKER-מסמך-سند-документ");
const TEXT_MARKER = "סמן-טקסט-نشانگر-маркер-🕊️";
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** At least `bytes` of UTF-8 in Hebrew, Persian, Cyrillic and emoji. */
function longText(bytes: number): string {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < bytes; i++) {
    const line = `${i}. ${TEXT_MARKER} טיוטת הבנה · پیش‌نویس تفاهم · проект понимания 🌍🤝`;
    lines.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  return lines.join("\n");
}

/** A file of `size` bytes made as it is read (never whole in memory), and its SHA-256. */
function madeFile(name: string, size: number, seed: number): FileSource & { sha256: string } {
  const piece = (i: number) => {
    const b = Buffer.alloc(MiB);
    for (let at = 0; at < MiB; at += 4096) {
      MARKER.copy(b, at);
      b.writeUInt32BE((seed * 7919 + i * 4096 + at) >>> 0, at + MARKER.length);
    }
    return b;
  };
  // eslint-disable-next-line @typescript-eslint/require-await
  async function* data() {
    for (let done = 0, i = 0; done < size; i++) {
      const b = piece(i).subarray(0, Math.min(MiB, size - done));
      done += b.length;
      yield b;
    }
  }
  const hash = createHash("sha256");
  for (let done = 0, i = 0; done < size; i++) {
    const b = piece(i).subarray(0, Math.min(MiB, size - done));
    done += b.length;
    hash.update(b);
  }
  return { name, type: "application/pdf", size, data, sha256: hash.digest("hex") };
}

async function sha256Of(chunks: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const c of chunks) {
    hash.update(c);
    size += c.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Every byte the relay keeps under its data dir (database, WAL, blob files). */
function storedFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => join(f.parentPath, f.name));
}

describe("attachments", () => {
  let net: TestNetwork;
  let out: string;
  beforeAll(async () => {
    net = await startNetwork();
    out = mkdtempSync(join(tmpdir(), "backchannel-attachments-"));
  });
  afterAll(async () => {
    await net?.close();
    rmSync(out, { recursive: true, force: true });
  });

  const blobFiles = () => storedFiles(join(net.dataDir, "blobs"));

  test("a 256 KiB unicode text and a 25 MiB file go from a handler through the mediator to the other party byte-exact; the relay holds none of it in clear", async () => {
    const [a] = net.handlers.A!;
    const [b] = net.handlers.B!;
    const file = madeFile("draft-map.pdf", 25 * MiB + 12_345, 1);
    const text = longText(256 * 1024);
    const progress: number[] = [];
    const sent = await a!.send({
      text,
      disclosure: "verbatim",
      attachments: [file],
      onProgress: (_i, done) => progress.push(done),
    });
    expect(progress.at(-1)).toBe(file.size);
    const body = sent.payload?.body;
    expect(body?.type === "signal" && body.attachments?.map((x) => [x.name, x.size, x.sha256])).toEqual([
      ["draft-map.pdf", file.size, file.sha256],
    ]);
    // The sender's device reads its own file back.
    const [mine] = a!.attachments(a!.caucusId, sent.eventId);
    expect((await sha256Of(mine!.fetch())).sha256).toBe(file.sha256);

    await net.mediator.sync();
    const result = await net.mediator.convey({
      from: net.caucus.A!,
      eventId: sent.eventId,
      mode: "verbatim",
    });
    const conveyed = result.conveyances[0]!;
    await b!.sync();
    const atB = b!.entries(b!.caucusId).find((e) => e.eventId === conveyed.eventId);
    expect(atB?.payload?.body.type === "conveyance" && sha256(atB.payload.body.text)).toBe(sha256(text));
    const [theirs] = b!.attachments(b!.caucusId, conveyed.eventId);
    expect(theirs).toMatchObject({ name: "draft-map.pdf", size: file.size, sha256: file.sha256 });
    const saved = await saveAttachment(theirs!, out);
    expect(await sha256Of(createReadStream(saved))).toEqual({ sha256: file.sha256, size: file.size });

    // A's receipt says exactly which file went where.
    await a!.sync();
    const receipt = a!.entries(a!.caucusId).find((e) => e.payload?.body.type === "receipt");
    expect(receipt?.payload?.body).toMatchObject({
      toParties: ["B"],
      attachments: [{ name: "draft-map.pdf", size: file.size, sha256: file.sha256 }],
    });

    // Two blobs (one per caucus, under different keys), each padded to its bucket.
    const blobs = blobFiles();
    expect(blobs).toHaveLength(2);
    for (const path of blobs) expect(statSync(path).size).toBe(32 * MiB + 16 * 512);
    for (const path of storedFiles(net.dataDir)) {
      const bytes = readFileSync(path);
      for (const clear of [MARKER, Buffer.from("draft-map.pdf"), Buffer.from(TEXT_MARKER)])
        expect(bytes.indexOf(clear), `${path}: ${clear.toString()}`).toBe(-1);
    }
  });

  test("a substance-only attachment cannot be conveyed verbatim; in substance, the other side gets the mediator's own file", async () => {
    const [a] = net.handlers.A!;
    const [b] = net.handlers.B!;
    const sent = await a!.send({
      text: "our list, for the mediator's eyes",
      disclosure: "substance",
      attachments: [madeFile("our-names.txt", 5000, 5)],
    });
    await net.mediator.sync();
    const from = net.caucus.A!;
    for (const opts of [
      { mode: "verbatim" as const },
      { mode: "substance" as const, text: "A sent a list", sourceFiles: true },
    ]) {
      const error = await net.mediator
        .convey({ from, eventId: sent.eventId, ...opts })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SdkError);
      expect((error as SdkError).code).toBe("disclosure_substance_only");
    }
    const own = madeFile("summary.txt", 3000, 6);
    const r = await net.mediator.convey({
      from,
      eventId: sent.eventId,
      mode: "substance",
      text: "A sent a list of names; here is my summary",
      ownFiles: [own],
    });
    await b!.sync();
    const files = b!.attachments(b!.caucusId, r.conveyances[0]!.eventId);
    expect(files.map((f) => [f.name, f.sha256])).toEqual([["summary.txt", own.sha256]]);
    expect((await sha256Of(files[0]!.fetch())).sha256).toBe(own.sha256);
    expect(r.receipt?.payload?.body).toMatchObject({
      mode: "substance",
      attachments: [{ name: "summary.txt", size: 3000, sha256: own.sha256 }],
    });
  });

  test("only members of the caucus the blob went to can fetch it", async () => {
    const [a] = net.handlers.A!;
    const [b] = net.handlers.B!;
    const sent = await a!.send({ text: "for the mediator", attachments: [madeFile("names.txt", 1000, 2)] });
    const [ref] = sent.payload?.body.type === "signal" ? sent.payload.body.attachments! : [];
    const url = (caucusId: string) => `${net.server.url}/v1/caucuses/${caucusId}/blobs/${ref!.blobId}`;
    const token = await b!.session.getToken();
    for (const caucusId of [net.caucus.A!, net.caucus.B!]) {
      const res = await fetch(url(caucusId), { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "not_found", message: "not found" });
    }
    const anonymous = await fetch(url(net.caucus.A!));
    expect(anonymous.status).toBe(401);
  });

  test("a tampered blob is refused on fetch, and nothing is saved", async () => {
    const [a] = net.handlers.A!;
    const file = madeFile("list.csv", 300_000, 3);
    const sent = await a!.send({ text: "the list", attachments: [file] });
    const [ref] = sent.payload?.body.type === "signal" ? sent.payload.body.attachments! : [];
    const path = join(net.dataDir, "blobs", ref!.blobId);
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from([0x42]), 0, 1, 200_000);
    closeSync(fd);
    await net.mediator.sync();
    const [view] = net.mediator.attachments(net.caucus.A!, sent.eventId);
    const error = await saveAttachment(view!, out).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SdkError);
    expect((error as SdkError).code).toBe("attachment_invalid");
    expect(readdirSync(out)).toEqual(["draft-map.pdf"]);
  });

  test("a blob over the caucus's quota gets 413 quota_exceeded, and nothing is stored", async () => {
    const [a] = net.handlers.A!;
    const db = () => new Database(join(net.dataDir, sqliteFileName), { readonly: true });
    const held = () => {
      const d = db();
      try {
        return d
          .prepare("SELECT ciphertext_bytes FROM caucuses WHERE caucus_id = ?")
          .pluck()
          .get(net.caucus.A!);
      } finally {
        d.close();
      }
    };
    const before = { files: blobFiles().length, bytes: held() };
    const token = await a!.session.getToken();
    const res = await fetch(
      `${net.server.url}/v1/caucuses/${net.caucus.A!}/blobs/${crypto.randomUUID()}?bytes=${65 * MiB}`,
      {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
        body: Buffer.alloc(1000),
      },
    );
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe("quota_exceeded");
    // Through the sdk: the same refusal, typed.
    const error = await a!
      .send({ text: "too big", attachments: [madeFile("huge.bin", 40 * MiB, 4)] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("quota_exceeded");
    expect({ files: blobFiles().length, bytes: held() }).toEqual(before);
  });
});
