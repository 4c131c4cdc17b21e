import { readFile } from "node:fs/promises";
import { textLimitWords } from "../protocol/index.js";
import { CliError } from "./context.js";

/** What `--text` and `--text-file` say in help: the limit, and that the device checks it. */
export const textHelp = `what you say (at most ${textLimitWords}, checked on this device before sending)`;
export const textFileHelp =
  "read the text from this file (UTF-8; - for standard input), for texts longer than a command line holds";

/**
 * The text of `--text` or `--text-file` (exactly one of them when `required`). A file is read as
 * UTF-8 and refused if it is not (nothing is sent); the length limit is the sdk's (events.ts).
 */
export async function readTextOption(
  o: { text?: string; textFile?: string },
  required: boolean,
): Promise<string | undefined> {
  if (o.text !== undefined && o.textFile !== undefined)
    throw new CliError("invalid_request", "give --text or --text-file, not both", 2);
  if (o.textFile === undefined) {
    if (required && o.text === undefined)
      throw new CliError("invalid_request", "give the text with --text or --text-file", 2);
    return o.text;
  }
  let bytes: Buffer;
  try {
    bytes = o.textFile === "-" ? await readStdin() : await readFile(o.textFile);
  } catch (e) {
    throw new CliError("file_unreadable", `cannot read ${o.textFile}: ${(e as Error).message}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CliError("invalid_request", `${o.textFile} is not UTF-8 text; nothing was sent`);
  }
}

/** In an agent: the standard input the CLI sent along with the command (agent-server.ts). */
let givenStdin: Buffer | undefined;
export function giveStdin(bytes: Buffer | undefined): void {
  givenStdin = bytes;
}

async function readStdin(): Promise<Buffer> {
  if (givenStdin) return givenStdin;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
