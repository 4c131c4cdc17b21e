#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run automatically on install).
import("../dist/cli/entry.js").catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
