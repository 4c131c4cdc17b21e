import { Command, CommanderError } from "commander";
import pc from "picocolors";
import { BackchannelError } from "../protocol/index.js";
import { registerDeviceCommands } from "./commands/device.js";
import { registerMediatorCommands } from "./commands/mediator.js";
import { registerPartyCommands } from "./commands/party.js";
import { registerServerCommands } from "./commands/server.js";
import { CliError } from "./context.js";

/** Exit codes: 0 ok, 1 error, 2 usage, 3 transcript problem, 4 demo check failed. */
export function buildProgram(): Command {
  const program = new Command("backchannel")
    .description(
      "Backchannel: secret, indirect, non-binding signalling between parties, through a mediator both trust",
    )
    .option("--home <dir>", "device keystore directory (env BACKCHANNEL_HOME, default ~/.backchannel)")
    .option(
      "--passphrase-file <file>",
      "read the keystore passphrase from a file (or set BACKCHANNEL_PASSPHRASE)",
    )
    .option("--json", "machine-readable output")
    .showHelpAfterError()
    .exitOverride();
  registerServerCommands(program);
  registerDeviceCommands(program);
  registerMediatorCommands(program);
  registerPartyCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const code = e instanceof BackchannelError ? e.code : "internal";
    const message = e instanceof Error ? e.message : String(e);
    if (json) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
    else process.stderr.write(`${pc.red("error")} ${pc.dim(`[${code}]`)} ${message}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

const exitCode = await main(process.argv);
// `serve` and `watch` keep running on their own; everything else exits with its code.
if (exitCode !== 0) process.exit(exitCode);
