import { openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { resolveCaucus } from "../resolve.js";

export function registerNoteCommand(program: Program): void {
  program
    .command("note")
    .description("write a note into a caucus (the mediator's own words to that party)")
    .requiredOption("--to <party>", "party name or caucus id")
    .requiredOption("--text <words>", "the note")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const c = resolveCaucus(m, o.to, o.channel);
      const e = await m.note(c.caucusId, o.text);
      output(o, e, `Note #${e.seq} sent to ${c.partyName}.`);
    });
}
