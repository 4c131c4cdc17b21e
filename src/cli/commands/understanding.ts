import pc from "picocolors";
import { openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { resolveChannel } from "../resolve.js";

/** `backchannel understanding propose | status` (mediator). */
export function registerUnderstandingCommand(program: Program): void {
  const understanding = program
    .command("understanding")
    .description("understandings: texts every party endorses word for word");
  understanding
    .command("propose")
    .description("propose an understanding's exact text to every party of a channel")
    .requiredOption("--text <words>", "the exact text")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const id = await m.proposeUnderstanding(resolveChannel(m, o.channel), o.text);
      output(o, { understandingId: id }, `Proposed understanding ${id} to every party.`);
    });
  understanding
    .command("status")
    .description("which parties endorsed which text; an understanding exists only if all did, identically")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      await m.sync();
      const list = m.understandings(resolveChannel(m, o.channel));
      output(
        o,
        { understandings: list },
        list
          .map(
            (u) =>
              `${u.reached ? pc.green("REACHED") : pc.yellow("not reached")} ${pc.dim(u.understandingId)}\n  “${u.text}”\n  endorsed by: ${u.endorsedBy.join(", ") || "nobody"}${u.pending.length ? ` · waiting for: ${u.pending.join(", ")}` : ""}`,
          )
          .join("\n") || "No understanding proposed. (Parallel notifications are not an understanding.)",
      );
    });
}
