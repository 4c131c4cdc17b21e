import { openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { renderTranscript } from "../render.js";
import { resolveCaucus } from "../resolve.js";

export function registerShowCommand(program: Program): void {
  program
    .command("show")
    .description("show one caucus's transcript (mediator)")
    .argument("<party>", "party name or caucus id")
    .option("--channel <id or topic>", "which channel")
    .action(async (party, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      await m.sync();
      const c = resolveCaucus(m, party, o.channel);
      output(
        o,
        { caucusId: c.caucusId, entries: m.entries(c.caucusId) },
        renderTranscript(
          m.entries(c.caucusId),
          { selfDeviceId: m.deviceId, role: "mediator", partyName: c.partyName },
          m.caucus(c.caucusId).problem,
        ),
      );
    });
}
