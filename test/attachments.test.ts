import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import {
  closeSync,
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

  test("a 25 MiB file goes up from a handler and the mediator fetches it byte-exact; the relay holds none of it in clear", async () => {
    const [a] = net.handlers.A!;
    const file = madeFile("draft-map.pdf", 25 * MiB + 12_345, 1);
    const progress: number[] = [];
    const sent = await a!.send({
      text: "the draft map",
      disclosure: "verbatim",
      attachments: [file],
      onProgress: (_i, done) => progress.push(done),
    });
    expect(progress.at(-1)).toBe(file.size);
    const body = sent.payload?.body;
    expect(body?.type === "signal" && body.attachments?.map((x) => [x.name, x.size, x.sha256])).toEqual([
      ["draft-map.pdf", file.size, file.sha256],
    ]);

    await net.mediator.sync();
    const [view] = net.mediator.attachments(net.caucus.A!, sent.eventId);
    expect(await sha256Of(view!.fetch())).toEqual({ sha256: file.sha256, size: file.size });
    // The sender's other devices, and the sender itself, read it too.
    const [mine] = a!.attachments(a!.caucusId, sent.eventId);
    expect((await sha256Of(mine!.fetch())).sha256).toBe(file.sha256);

    // The relay stores one blob, padded to its bucket (32 MiB and the chunks' tags), never the bytes.
    const blobs = blobFiles();
    expect(blobs).toHaveLength(1);
    expect(statSync(blobs[0]!).size).toBe(32 * MiB + 16 * 512);
    for (const path of storedFiles(net.dataDir)) {
      const bytes = readFileSync(path);
      expect(bytes.indexOf(MARKER), path).toBe(-1);
      expect(bytes.indexOf(Buffer.from("draft-map.pdf")), path).toBe(-1);
    }
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
    expect(readdirSync(out)).toEqual([]);
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
