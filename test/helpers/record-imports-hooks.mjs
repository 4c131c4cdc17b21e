// Module hooks for record-imports.mjs (they run on the loader's own thread).
import { appendFileSync } from "node:fs";

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const log = process.env.BACKCHANNEL_IMPORT_LOG;
  if (log) appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}
