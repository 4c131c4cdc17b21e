import { openParty, output } from "../context.js";
import type { Program } from "../global-options.js";
import { resolveEntry } from "../resolve.js";

export function registerEndorseCommand(program: Program): void {
  program
    .command("endorse")
    .description("endorse the exact text of an understanding the mediator proposed")
    .argument("<understanding>", "the proposal's #number in your inbox, or the understanding id")
    .action(async (ref, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const p = await openParty(o);
      await p.sync();
      const entries = p.entries(p.caucusId);
      const byId = entries.find(
        (e) => e.payload?.body.type === "understanding_proposal" && e.payload.body.understandingId === ref,
      );
      const proposal = byId ?? resolveEntry(entries, ref);
      const body = proposal.payload?.body;
      const id = body?.type === "understanding_proposal" ? body.understandingId : ref;
      const e = await p.endorse(id);
      output(o, e, `Endorsed understanding ${id} (#${e.seq}).`);
    });
}
