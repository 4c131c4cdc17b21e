/**
 * Whoever reads our output may stop early (`backchannel inbox | head -1`): a write to a closed
 * pipe is EPIPE, which Node raises as an unhandled 'error' event with a stack trace. The reader
 * chose to stop, so exit quietly, 0 (what was asked was done; the rest was not wanted). Node
 * builtins only: the agent's thin front (entry.ts) uses it too.
 */
export function exitQuietlyOnClosedPipe(...streams: NodeJS.WriteStream[]): void {
  for (const stream of streams)
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0);
      throw e;
    });
}
