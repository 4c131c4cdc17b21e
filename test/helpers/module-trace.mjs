// `node --import ./module-trace.mjs …`: appends the URL of every module the process resolves to
// the file MODULE_TRACE names (test/cli-agent.test.ts: which modules a CLI process loads).
import { register } from "node:module";

register("./module-trace-hooks.mjs", import.meta.url);
