import { useId, useRef } from "react";
import type { FileSource } from "../../sdk/index.js";
import { fileSize } from "./attachment-list.js";

/** A browser File as the sdk reads it: streamed, never whole in memory. */
export function fileSource(file: File): FileSource {
  return {
    name: file.name,
    type: file.type || "application/octet-stream",
    size: file.size,
    data: () => file.stream() as unknown as AsyncIterable<Uint8Array>,
  };
}

/** How far an upload is: the file being sent and its bytes done. */
export interface UploadProgress {
  file: number;
  done: number;
  size: number;
}

/**
 * Files to attach: chosen with the browser's own picker (several at once), each shown with its
 * name and size and a button to take it off again before sending; while they go up, a progress bar.
 */
export function AttachField(props: {
  files: readonly File[];
  onChange: (files: File[]) => void;
  progress?: UploadProgress | undefined;
  label?: string;
  disabled?: boolean;
}) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const { files, progress } = props;
  return (
    <div className="attach-field">
      <label htmlFor={`${id}-input`}>{props.label ?? "Attach files (optional)"}</label>
      <input
        ref={input}
        id={`${id}-input`}
        type="file"
        multiple
        disabled={props.disabled}
        onChange={(e) => {
          const chosen = Array.from(e.target.files ?? []);
          props.onChange([...files, ...chosen]);
          // The same file can be chosen again after it was removed.
          e.target.value = "";
        }}
      />
      {files.length > 0 && (
        <ul className="attach-list" aria-label="Files to attach">
          {files.map((f, i) => (
            <li key={`${i}-${f.name}`}>
              <span className="file-name">{f.name}</span> <span className="muted">{fileSize(f.size)}</span>{" "}
              <button
                type="button"
                className="secondary"
                disabled={props.disabled || !!progress}
                aria-label={`Remove ${f.name}`}
                onClick={() => {
                  props.onChange(files.filter((_, j) => j !== i));
                  input.current?.focus();
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {progress && files[progress.file] && (
        <p className="upload-progress">
          <label htmlFor={`${id}-progress`}>
            Uploading {files[progress.file]!.name} ({progress.file + 1} of {files.length})
          </label>{" "}
          <progress
            id={`${id}-progress`}
            max={progress.size || 1}
            value={progress.done}
            aria-valuetext={`${Math.floor((progress.done / (progress.size || 1)) * 100)}%`}
          />
        </p>
      )}
    </div>
  );
}
