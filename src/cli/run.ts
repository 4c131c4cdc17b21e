import { CommanderError } from "@commander-js/extra-typings";
import pc from "picocolors";
import { BackchannelError } from "../protocol/errors.js";
import { CliError } from "./cli-error.js";
import { buildProgram } from "./program.js";

/**
 * Runs one command, `argv` as process.argv (node, the script, then the user's words), and
 * returns its exit code. The CLI's own process (main.ts) and an agent (agent-server.ts) both
 * run commands through here, so both print the same output and errors.
 */
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
