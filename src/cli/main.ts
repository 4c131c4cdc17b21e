import { main } from "./run.js";

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

exitQuietlyOnClosedPipe(process.stdout);
exitQuietlyOnClosedPipe(process.stderr);
const exitCode = await main(process.argv);
// `serve` and `watch` keep running on their own; everything else exits with its code.
if (exitCode !== 0) process.exit(exitCode);
