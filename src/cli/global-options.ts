import { Command, Option } from "@commander-js/extra-typings";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The `backchannel` command itself, with the options every subcommand understands. Subcommands
 * are added to it, so their action handlers see these options, typed, in `optsWithGlobals()`.
 *
 * There is deliberately no option for the passphrase itself: a command-line argument is visible
 * to every user of the machine (ps, /proc) and lands in shell history. See `passphrase()`.
 */
export function rootCommand() {
  return new Command("backchannel")
    .description(
      "Backchannel: secret, indirect, non-binding signalling between parties, through a mediator both trust",
    )
    .addOption(
      new Option("--home <dir>", "device keystore directory")
        .env("BACKCHANNEL_HOME")
        .default(join(homedir(), ".backchannel"), "~/.backchannel"),
    )
    .option(
      "--passphrase-file <file>",
      "read the keystore passphrase from a file (or set BACKCHANNEL_PASSPHRASE)",
    )
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 error, 2 usage, 3 a transcript failed verification (inbox, verify), 4 a demo check failed, 5 `join --wait` timed out before the device was admitted.",
    )
    .showHelpAfterError()
    .exitOverride();
}

export type Program = ReturnType<typeof rootCommand>;

/** --home, --passphrase-file and --json, as parsed. */
export type GlobalOptions = ReturnType<Program["opts"]>;
