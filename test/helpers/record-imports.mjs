// `node --import <this file>`: every module the process resolves (ESM imports, and the packages
// they import, CommonJS ones included) is appended, one URL a line, to $BACKCHANNEL_IMPORT_LOG.
// test/cli-startup.test.ts reads it to see what a command loads.
import { register } from "node:module";

register("./record-imports-hooks.mjs", import.meta.url);
