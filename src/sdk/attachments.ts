import {
  attachment as attachmentSchema,
  fillPath,
  fromBase64Url,
  parse,
  putBlobResponse,
  routes,
  toBase64Url,
  type Attachment,
} from "../protocol/index.js";
import { newAttachmentKey, open, seal, sealedSize, type SealResult } from "./blob-crypto.js";
import type { DeviceCore } from "./core/device-core.js";
import { SdkError, TransportError } from "./errors.js";
import { refusalError } from "./http-client.js";

/**
 * A file to attach: read as a stream, never whole (a Node file: see `fileSource` in sdk/node.ts;
 * a browser File: `{ name, type, size, data: () => file.stream() }`). `data` may be called again
 * if the upload has to start over.
 */
export interface FileSource {
  name: string;
  /** Media type; default application/octet-stream. */
  type?: string;
  size: number;
  data: () => AsyncIterable<Uint8Array>;
}

/** Called as a file goes up or comes down: bytes of the file done so far, and its size. */
export type Progress = (done: number, size: number) => void;

async function* counted(source: AsyncIterable<Uint8Array>, size: number, progress?: Progress) {
  let done = 0;
  for await (const chunk of source) {
    done += chunk.length;
    progress?.(done, size);
    yield chunk;
  }
}

/** A ReadableStream over an async iterable (what fetch takes as a streamed body). */
function readable(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const next = await it.next();
      if (next.done === true) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function blobUrl(core: DeviceCore, caucusId: string, blobId: string): URL {
  const path = fillPath(routes.putBlob.path, (name) =>
    encodeURIComponent(name === "caucusId" ? caucusId : blobId),
  );
  return new URL(path, core.session.http.baseUrl);
}

async function blobFetch(url: URL, init: RequestInit & { duplex?: "half" }): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (cause) {
    if (cause instanceof SdkError) throw cause;
    const inner = (cause as { cause?: unknown }).cause;
    if (inner instanceof SdkError) throw inner;
    throw new TransportError(
      "server_unreachable",
      `cannot reach ${url.origin}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (res.ok) return res;
  throw refusalError(res.status, await res.json().catch(() => undefined));
}

/**
 * Request bodies can be streamed from Node (undici) only: Chromium streams them over HTTP/2 alone
 * (over HTTP/1.1 the request fails with ERR_ALPN_NEGOTIATION_FAILED) and other browsers not at all.
 * A browser seals the file chunk by chunk into a Blob (at most limits.attachmentBytes and its
 * padding) and uploads that.
 */
const streamsUploads =
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

async function uploadBody(sealed: AsyncIterable<Uint8Array>): Promise<BodyInit> {
  if (streamsUploads) return readable(sealed);
  const parts: Uint8Array<ArrayBuffer>[] = [];
  for await (const chunk of sealed) parts.push(chunk as Uint8Array<ArrayBuffer>);
  return new Blob(parts, { type: "application/octet-stream" });
}

/**
 * Encrypts a file on this device with a fresh key and uploads it to the caucus, streamed; returns
 * what goes into the MLS message (key, SHA-256, size, name, type). The relay gets sealed chunks
 * of the padded file and nothing else (sdk/blob-crypto.ts).
 */
export async function uploadAttachment(
  core: DeviceCore,
  caucusId: string,
  file: FileSource,
  progress?: Progress,
): Promise<Attachment> {
  const blobId = crypto.randomUUID();
  const key = newAttachmentKey();
  const bytes = sealedSize(file.size);
  const url = blobUrl(core, caucusId, blobId);
  url.searchParams.set("bytes", String(bytes));
  const result: SealResult = {};
  const res = await core.session.withRetry(async () =>
    blobFetch(url, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${await core.session.getToken()}`,
        "content-type": "application/octet-stream",
      },
      body: await uploadBody(seal(counted(file.data(), file.size, progress), file.size, key, result)),
      ...(streamsUploads ? { duplex: "half" as const } : {}),
    }),
  );
  const stored = parse(putBlobResponse, await res.json().catch(() => undefined), "upload answer");
  if (!result.sha256 || stored.blobId !== blobId || stored.bytes !== bytes)
    throw new TransportError("bad_response", "the relay answered the upload with another blob");
  return {
    blobId,
    key: toBase64Url(key),
    sha256: result.sha256,
    size: file.size,
    name: file.name,
    type: file.type ?? "application/octet-stream",
  };
}

/**
 * The attachment's bytes, downloaded from the caucus it came in and decrypted as they come, each
 * chunk checked, and the whole against its SHA-256 at the end (attachment_invalid otherwise:
 * throw away what came, as `saveAttachment` in sdk/node.ts does).
 */
export async function* fetchAttachment(
  core: DeviceCore,
  caucusId: string,
  attachment: Attachment,
  progress?: Progress,
): AsyncGenerator<Uint8Array> {
  const ref = parse(attachmentSchema, attachment, "attachment");
  const res = await core.session.withRetry(async () =>
    blobFetch(blobUrl(core, caucusId, ref.blobId), {
      headers: { authorization: `Bearer ${await core.session.getToken()}` },
    }),
  );
  if (!res.body) throw new TransportError("bad_response", "the relay answered without the blob");
  yield* counted(
    open(chunksOf(res.body), ref, fromBase64Url(ref.key) as Uint8Array<ArrayBuffer>),
    ref.size,
    progress,
  );
}

/** Uploads each file in turn (none: undefined), for an event's `attachments`. */
export async function uploadAll(
  core: DeviceCore,
  caucusId: string,
  files: readonly FileSource[] | undefined,
  progress?: (file: number, done: number, size: number) => void,
): Promise<Attachment[] | undefined> {
  if (!files?.length) return undefined;
  const out: Attachment[] = [];
  for (const [i, file] of files.entries())
    out.push(
      await uploadAttachment(core, caucusId, file, progress && ((done, size) => progress(i, done, size))),
    );
  return out;
}
