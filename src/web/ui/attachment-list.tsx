import { useEffect, useId, useState } from "react";
import type { AttachmentSummary } from "../../protocol/index.js";
import type { AttachmentView, Device } from "../../sdk/index.js";
import { errorText } from "./error-text.js";

/** A file's size for people: bytes, KiB or MiB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Media types shown inline as images: raster only (the sender names the type; it is never trusted further). */
const imageTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/**
 * Fetches a file whole: downloaded, decrypted and checked chunk by chunk by the sdk, and against its
 * SHA-256 at the end (attachment_invalid otherwise, and nothing is kept). Files are at most
 * limits.attachmentBytes, so one in memory is bounded.
 */
async function fetchBlob(
  file: AttachmentView,
  type: string,
  progress: (done: number) => void,
): Promise<Blob> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  for await (const chunk of file.fetch((done) => progress(done)))
    parts.push(chunk as Uint8Array<ArrayBuffer>);
  return new Blob(parts, { type });
}

/** The files of one event (a signal, conveyance or note), each with Download and, where it can be, Preview. */
export function AttachmentList(props: { device: Device; caucusId: string; eventId: string }) {
  let files: AttachmentView[];
  try {
    files = props.device.attachments(props.caucusId, props.eventId);
  } catch {
    return null;
  }
  return (
    <ul className="attachments" aria-label="Attached files">
      {files.map((f, i) => (
        <AttachmentItem key={`${i}-${f.sha256}`} file={f} />
      ))}
    </ul>
  );
}

function AttachmentItem({ file }: { file: AttachmentView }) {
  const id = useId();
  const [done, setDone] = useState<number>();
  const [error, setError] = useState<string>();
  const [preview, setPreview] = useState<{ url: string; kind: "image" | "pdf" }>();
  useEffect(() => () => preview && URL.revokeObjectURL(preview.url), [preview]);
  const busy = done !== undefined;
  const kind = imageTypes.has(file.type) ? "image" : file.type === "application/pdf" ? "pdf" : undefined;
  const get = async (type: string): Promise<Blob | undefined> => {
    setError(undefined);
    setDone(0);
    try {
      return await fetchBlob(file, type, setDone);
    } catch (e) {
      setError(errorText(e));
      return undefined;
    } finally {
      setDone(undefined);
    }
  };
  return (
    <li className="attachment">
      <span className="file-name">{file.name}</span>{" "}
      <span className="muted">
        {fileSize(file.size)} · {file.type || "unknown type"}
      </span>{" "}
      <button
        type="button"
        className="secondary"
        disabled={busy}
        aria-label={`Download ${file.name}`}
        onClick={() =>
          void get("application/octet-stream").then((blob) => {
            if (!blob) return;
            // Saved only once every byte verified: the browser never holds a partial, unchecked file.
            const url = URL.createObjectURL(blob);
            const a = document.createElement("a");
            a.href = url;
            a.download = file.name;
            a.click();
            setTimeout(() => URL.revokeObjectURL(url), 60_000);
          })
        }
      >
        Download
      </button>
      {kind && !preview && (
        <button
          type="button"
          className="secondary"
          disabled={busy}
          aria-label={`Preview ${file.name}`}
          onClick={() =>
            void get(kind === "image" ? file.type : "application/pdf").then(
              (blob) => blob && setPreview({ url: URL.createObjectURL(blob), kind }),
            )
          }
        >
          Preview
        </button>
      )}
      {busy && (
        <p className="download-progress">
          <label htmlFor={`${id}-progress`}>Fetching {file.name}</label>{" "}
          <progress
            id={`${id}-progress`}
            max={file.size || 1}
            value={done}
            aria-valuetext={`${Math.floor((done / (file.size || 1)) * 100)}%`}
          />
        </p>
      )}
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      {preview?.kind === "image" && (
        <figure className="attachment-preview">
          <img src={preview.url} alt={`Preview of ${file.name}`} />
          <figcaption>
            <button type="button" className="secondary" onClick={() => setPreview(undefined)}>
              Close preview
            </button>
          </figcaption>
        </figure>
      )}
      {preview?.kind === "pdf" && (
        // The console's CSP frames nothing (no frame-src, object-src 'none'): a PDF opens in its own tab.
        <p className="attachment-preview">
          <a href={preview.url} target="_blank" rel="noopener noreferrer">
            Open {file.name} in a new tab
          </a>
        </p>
      )}
    </li>
  );
}

/** What a receipt says of the files that went with the words: name, size and the start of the SHA-256. */
export function FileSummaries({ files }: { files: readonly AttachmentSummary[] | undefined }) {
  if (!files?.length) return null;
  return (
    <ul className="file-summaries" aria-label="Files conveyed">
      {files.map((f, i) => (
        <li key={`${i}-${f.sha256}`}>
          <span className="file-name">{f.name}</span> <span className="muted">{fileSize(f.size)}</span> ·
          SHA-256 <code title={f.sha256}>{f.sha256.slice(0, 12)}</code>
        </li>
      ))}
    </ul>
  );
}
