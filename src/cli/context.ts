import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline/promises";
import { ApiError, Mediator, Party, openDevice as openStoredDevice, type Device } from "../sdk/index.js";
import { FileStateStore, nodePlatform } from "../sdk/node.js";
import { CliError } from "./cli-error.js";
import type { GlobalOptions } from "./global-options.js";

export { CliError };

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

/** The agent's store, unlocked once when it started (agent-server.ts); none in the CLI's own process. */
let heldStore: FileStateStore | undefined;

/** In an agent: commands on this store's device use it as it is, with no passphrase and no scrypt. */
export function holdStore(store: FileStateStore): void {
  heldStore = store;
}

export async function openDevice(opts: GlobalOptions): Promise<Mediator | Party> {
  const path = devicePath(opts);
  const store = heldStore?.path === path ? heldStore : new FileStateStore(path, await passphrase(opts));
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

/** Exit status 5: `join --wait` / `mediator join --wait` ran out of time before the device was added. */
export const admissionTimeout = (seconds: number, what: string): CliError =>
  new CliError(
    "admission_timeout",
    `${what} within ${seconds} s; the device is kept and still waits: run \`backchannel inbox\` later to see whether it was added`,
    5,
  );

/** A `--wait <seconds>` value: a number of seconds, 0 or more. */
export function waitSeconds(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new CliError("invalid_request", `--wait takes a number of seconds, not “${raw}”`, 2);
  return n;
}

/**
 * The caucuses a `--caucus <id or party>` option selects (all when absent). A name or id that
 * selects none of this device's caucuses is caucus_unknown, never an empty list: "no caucuses"
 * would read as a device that has none.
 */
export function selectedCaucuses(d: Device, ref: string | undefined): string[] {
  const all = d.caucusIds();
  if (ref === undefined) return all;
  const wanted = ref.trim().toLowerCase();
  const ids = all.filter((c) => c === ref || d.caucus(c).partyName?.toLowerCase() === wanted);
  if (!ids.length)
    throw new CliError("caucus_unknown", `this device has no caucus called “${ref}” (by party name or id)`);
  return ids;
}

/** The caucuses this device was removed from (marked only on the mediator's signed word, invariant 8). */
export function removedCaucuses(d: Device): string[] {
  return d.caucusIds().filter((c) => d.caucus(c).removed);
}

/**
 * The relay refuses every request of a device removed from all it was in (device_removed); the
 * sdk marks the caucuses removed on the mediator's signed word, then throws. A command that
 * reports on the device (inbox, verify) goes on from there: every caucus says it was removed,
 * and the command then fails with `removedFromAll` (the same on every later run).
 */
export async function unlessRemoved<T>(d: Device, fn: () => Promise<T>, otherwise: () => T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const all = d.caucusIds();
    if (
      e instanceof ApiError &&
      e.code === "device_removed" &&
      all.length &&
      removedCaucuses(d).length === all.length
    )
      return otherwise();
    throw e;
  }
}

/** device_removed, exit 1, when the mediator removed this device from every caucus it was in. */
export function removedFromAll(d: Device): CliError | undefined {
  const all = d.caucusIds();
  if (!all.length || removedCaucuses(d).length < all.length) return undefined;
  return new CliError(
    "device_removed",
    "the mediator removed this device: it can read nothing sent since its removal, and send nothing",
  );
}
