import { CommanderError } from "@commander-js/extra-typings";
import pc from "picocolors";
import { BackchannelError } from "../protocol/errors.js";
import { CliError } from "./cli-error.js";
import { buildProgram } from "./program.js";

/**
 * Whoever reads our output may stop early (`backchannel inbox | head -1`): a write to a closed
 * pipe is EPIPE, which Node raises as an unhandled 'error' event with a stack trace. The reader
 * chose to stop, so exit quietly, 0 (what was asked was done; the rest was not wanted).
 */
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  try {
    const program = await buildProgram(argv.slice(2));
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const code = e instanceof BackchannelError ? e.code : "internal";
    const message = e instanceof Error ? e.message : String(e);
    if (json) {
      // One JSON document on stdout, always: a command that already printed its result with the
      // error in it (inbox, verify on a transcript problem) gets no second one.
      if (!(e instanceof CliError && e.inJsonOutput))
        process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
    } else process.stderr.write(`${pc.red("error")} ${pc.dim(`[${code}]`)} ${message}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

exitQuietlyOnClosedPipe(process.stdout);
exitQuietlyOnClosedPipe(process.stderr);
const exitCode = await main(process.argv);
// `serve` and `watch` keep running on their own; everything else exits with its code.
if (exitCode !== 0) process.exit(exitCode);
