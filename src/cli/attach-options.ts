import type { FileSource } from "../sdk/index.js";
import { fileSource } from "../sdk/node.js";
import { limits } from "../protocol/index.js";
import { CliError } from "./context.js";

/** What `--attach` says in help. */
export const attachHelp = `attach a file (repeatable; up to ${limits.attachmentBytes / 1024 / 1024} MiB each, encrypted on this device)`;

/** The files of `--attach` (or `--own-file`), refused before anything is sent if one cannot be read. */
export async function attachedFiles(paths: readonly string[]): Promise<FileSource[]> {
  const files: FileSource[] = [];
  for (const path of paths) {
    let file: FileSource;
    try {
      file = await fileSource(path);
    } catch (e) {
      throw new CliError("file_unreadable", `cannot read ${path}: ${(e as Error).message}`);
    }
    if (file.size > limits.attachmentBytes)
      throw new CliError(
        "invalid_request",
        `${path} has ${file.size} bytes; a file may have at most ${limits.attachmentBytes} (${limits.attachmentBytes / 1024 / 1024} MiB); nothing was sent`,
      );
    files.push(file);
  }
  return files;
}

/** Large files show how far they got on standard error (never on stdout, which --json owns). */
const LARGE = 1024 * 1024;

export function progressLine(verb: string, name: string, size: number): ((done: number) => void) | undefined {
  if (size < LARGE) return undefined;
  let shown = -1;
  return (done: number) => {
    const percent = Math.floor((done / size) * 100);
    if (percent === shown) return;
    shown = percent;
    process.stderr.write(
      `\r${verb} ${name}: ${percent}% of ${(size / LARGE).toFixed(1)} MiB${done === size ? "\n" : ""}`,
    );
  };
}
