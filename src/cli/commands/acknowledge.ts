import { describeStance } from "../../protocol/index.js";
import { disclosureDefaults } from "../../sdk/index.js";
import { openParty, output } from "../context.js";
import { attributionOf, disclosureOption } from "../disclosure-options.js";
import type { Program } from "../global-options.js";
import { resolveEntry } from "../resolve.js";
import { addStanceOptions, stanceFrom } from "../stance-options.js";

export function registerAcknowledgeCommand(program: Program): void {
  addStanceOptions(
    program
      .command("acknowledge")
      .alias("ack")
      .description('acknowledge a conveyance you received ("received"), with your own stance')
      .argument("<conveyance>", "its #number in your inbox, or its id")
      .option("--text <words>", "what you add (e.g. “no commitment, no coordination”)")
      .addOption(disclosureOption(disclosureDefaults.disclosure))
      .option("--anonymous", "if conveyed, attribute it to “a party”"),
  ).action(async (ref, _o, cmd) => {
    const o = cmd.optsWithGlobals();
    const p = await openParty(o);
    await p.sync();
    const target = resolveEntry(p.entries(p.caucusId), ref);
    const e = await p.acknowledge(target.eventId, {
      ...(o.text ? { text: o.text } : {}),
      stance: stanceFrom(o),
      disclosure: o.disclosure,
      attribution: attributionOf(o.anonymous),
    });
    const b = e.payload?.body;
    output(
      o,
      e,
      `Acknowledged #${target.seq} as #${e.seq}.\nstance: ${b && "stance" in b ? describeStance(b.stance) : "?"}`,
    );
  });
}
