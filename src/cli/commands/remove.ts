import { openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { resolveCaucus } from "../resolve.js";

export function registerRemoveCommand(program: Program): void {
  program
    .command("remove")
    .description(
      "remove a handler's device from a caucus (re-keys the caucus; the device can read nothing sent afterwards)",
    )
    .requiredOption("--caucus <party>", "party name or caucus id")
    .requiredOption("--device <id>", "the handler device id (see `backchannel whoami`)")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const c = resolveCaucus(m, o.caucus, o.channel);
      await m.removeDevice(c.caucusId, o.device);
      output(
        o,
        { removed: o.device, caucusId: c.caucusId },
        `Removed ${o.device} from ${c.partyName}'s caucus; the caucus was re-keyed.`,
      );
    });
}
