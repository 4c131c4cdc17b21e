import { openDevice, output } from "../context.js";
import type { Program } from "../global-options.js";

/** `backchannel logout`: revokes every login token of this device; its open `watch`es disconnect. */
export function registerLogoutCommand(program: Program): void {
  program
    .command("logout")
    .description(
      "revoke this device's login tokens on the relay (closes its open `watch` connections; keys stay, and the next command logs in again)",
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      const revoked = await d.logout({ everywhere: true });
      output(o, { revoked }, `Logged out: ${revoked} session(s) revoked.`);
    });
}
