import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline/promises";
import { BackchannelError } from "../protocol/index.js";
import { Mediator, Party, openDevice as openStoredDevice, type Device } from "../sdk/index.js";
import { FileStateStore, nodePlatform } from "../sdk/node.js";
import type { GlobalOptions } from "./global-options.js";

export class CliError extends BackchannelError {
  constructor(
    code: string,
    message: string,
    readonly exitCode = 1,
    /** The command's own --json document already carries this error: print nothing more. */
    readonly inJsonOutput = false,
  ) {
    super(code, message);
  }
}

/** --home, else BACKCHANNEL_HOME, else ~/.backchannel (the option's env and default). */
export function homeDir(opts: GlobalOptions): string {
  return opts.home;
}

export function devicePath(opts: GlobalOptions): string {
  return join(homeDir(opts), "device.json");
}

/**
 * The keystore passphrase: a file, the environment, or a prompt on a terminal — never an argument
 * (so it has no `Option.env()`: that would also accept it on the command line). The only place
 * the CLI reads BACKCHANNEL_PASSPHRASE.
 */
export async function passphrase(opts: GlobalOptions, confirm = false): Promise<string> {
  if (opts.passphraseFile) return readFileSync(opts.passphraseFile, "utf8").replace(/\r?\n$/, "");
  const env = process.env.BACKCHANNEL_PASSPHRASE;
  if (env) return env;
  if (!process.stdin.isTTY)
    throw new CliError(
      "passphrase_required",
      "set BACKCHANNEL_PASSPHRASE or pass --passphrase-file to unlock the device keystore",
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const first = await rl.question("Keystore passphrase: ");
    if (confirm && (await rl.question("Again: ")) !== first)
      throw new CliError("passphrase_mismatch", "the passphrases differ");
    return first;
  } finally {
    rl.close();
  }
}

/**
 * The store for a device this command is about to make. The passphrase policy holds whichever
 * way the passphrase came (environment, file or prompt) and is checked here, before the command
 * registers with the relay or redeems its one-time code (passphrase_weak).
 */
export async function newStore(opts: GlobalOptions): Promise<FileStateStore> {
  const store = FileStateStore.forNewDevice(devicePath(opts), await passphrase(opts, true));
  if (store.exists())
    throw new CliError(
      "device_exists",
      `a device already exists in ${homeDir(opts)} (use --home for another)`,
    );
  return store;
}

export async function openDevice(opts: GlobalOptions): Promise<Mediator | Party> {
  const store = new FileStateStore(devicePath(opts), await passphrase(opts));
  if (!store.exists())
    throw new CliError(
      "no_device",
      `no device in ${homeDir(opts)}: run \`backchannel mediator init\` or \`backchannel join <code>\` first`,
    );
  return openStoredDevice(store, nodePlatform);
}

export async function openMediator(opts: GlobalOptions): Promise<Mediator> {
  const d = await openDevice(opts);
  if (!(d instanceof Mediator)) throw new CliError("wrong_role", "this command is for the mediator's device");
  return d;
}

export async function openParty(opts: GlobalOptions): Promise<Party> {
  const d = await openDevice(opts);
  if (!(d instanceof Party)) throw new CliError("wrong_role", "this command is for a party handler's device");
  return d;
}

/** Prints `human` for people, or `data` as JSON with --json. */
export function output(opts: GlobalOptions, data: unknown, human: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
}

/**
 * Prints a result that is also a failure (a report that found a transcript problem), then fails
 * with `error`'s exit code. With --json, stdout stays one JSON document: the result with `error`
 * and `message` beside it, and main() adds no second one. People also get the error on stderr.
 */
export function outputFailure(opts: GlobalOptions, data: object, human: string, error: CliError): never {
  output(opts, { ...data, error: error.code, message: error.message }, human);
  throw new CliError(error.code, error.message, error.exitCode, true);
}

export type { Device };

/** The caucuses a `--caucus <id or party>` option selects (all when absent). */
export function selectedCaucuses(d: Device, ref: string | undefined): string[] {
  return d
    .caucusIds()
    .filter((c) => !ref || c === ref || d.caucus(c).partyName?.toLowerCase() === ref.toLowerCase());
}
