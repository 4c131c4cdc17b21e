import { consoleConfig, consoleConfigPath } from "../../protocol/console-config.js";
import { parse } from "../../protocol/parse.js";

/** The relay this console talks to, and whether that relay is also what served the console. */
export interface Relay {
  /** The relay's origin. */
  url: string;
  /**
   * The page's code came from the relay: whoever runs it could send code that reads this
   * browser's keys and everything done here, and the console must say so.
   */
  servedByRelay: boolean;
}

/**
 * Reads /config.json from whoever served this page: `backchannel console` names the relay; a relay
 * serving the console itself names none, so the page's own origin is the relay.
 */
export async function loadRelay(): Promise<Relay> {
  const res = await fetch(consoleConfigPath, { cache: "no-store" });
  if (!res.ok)
    throw new Error(`This console's settings (${consoleConfigPath}) could not be read (${res.status}).`);
  const config = parse(consoleConfig, await res.json(), consoleConfigPath);
  const url = new URL(config.relayUrl ?? window.location.origin).origin;
  return { url, servedByRelay: url === window.location.origin };
}

/**
 * A device, invite or link belongs to one relay. The console's CSP lets it reach its own relay
 * only, so another one is refused here, in words, before anything is made.
 */
export function assertSameRelay(relay: Relay, serverUrl: string, what: string): void {
  const other = new URL(serverUrl).origin;
  if (other !== relay.url)
    throw new Error(
      `${what} is for the relay at ${other}, but this console talks to ${relay.url}. ` +
        `Run \`backchannel console --server ${other}\` and open the address it prints.`,
    );
}
