import { Option, type Command } from "commander";
import { describeStance, signalKind } from "../../protocol/index.js";
import { openParty, output, commandOptions } from "../context.js";
import { resolveEntry } from "../resolve.js";
import { addStanceOptions, stanceFrom } from "../stance-options.js";

const g = commandOptions;

export function registerPartyCommands(program: Command): void {
  addStanceOptions(
    program
      .command("send")
      .description(
        "send a signal to the mediator in your party's caucus (non-binding unless you say otherwise)",
      )
      .requiredOption("--text <words>", "what you say")
      .addOption(
        new Option("--kind <kind>", "kind of signal")
          .choices(signalKind.options)
          .default("notification_of_intent"),
      )
      .addOption(
        new Option("--disclosure <d>", "what the mediator may do with it")
          .choices(["verbatim", "substance", "mediator_only"])
          .default("substance"),
      )
      .option("--anonymous", "if conveyed, attribute it to “a party”, not your party's name")
      .option("--expires <iso-time>", "after this time it may no longer be conveyed")
      .option("--on-behalf-of <principal>", "say it on behalf of your principal (a personal message)"),
  ).action(async (_o, cmd: Command) => {
    const o = g(cmd);
    const p = await openParty(o);
    const e = await p.send({
      text: String(o.text),
      signalKind: o.kind as "reply",
      disclosure: o.disclosure as "substance",
      attribution: o.anonymous ? "anonymous" : "party",
      stance: stanceFrom(o),
      ...(o.expires ? { expiresAt: new Date(String(o.expires)).toISOString() } : {}),
      ...(o.onBehalfOf ? { onBehalfOf: String(o.onBehalfOf) } : {}),
    });
    const b = e.payload?.body;
    output(o, e, `Sent signal #${e.seq}.\nstance: ${b && "stance" in b ? describeStance(b.stance) : "?"}`);
  });

  addStanceOptions(
    program
      .command("acknowledge")
      .alias("ack")
      .description('acknowledge a conveyance you received ("received"), with your own stance')
      .argument("<conveyance>", "its #number in your inbox, or its id")
      .option("--text <words>", "what you add (e.g. “no commitment, no coordination”)")
      .addOption(
        new Option("--disclosure <d>", "what the mediator may do with it")
          .choices(["verbatim", "substance", "mediator_only"])
          .default("verbatim"),
      )
      .option("--anonymous", "if conveyed, attribute it to “a party”"),
  ).action(async (ref: string, _o, cmd: Command) => {
    const o = g(cmd);
    const p = await openParty(o);
    await p.sync();
    const target = resolveEntry(p.entries(p.caucusId), ref);
    const e = await p.acknowledge(target.eventId, {
      ...(o.text ? { text: String(o.text) } : {}),
      stance: stanceFrom(o),
      disclosure: o.disclosure as "verbatim",
      attribution: o.anonymous ? "anonymous" : "party",
    });
    const b = e.payload?.body;
    output(
      o,
      e,
      `Acknowledged #${target.seq} as #${e.seq}.\nstance: ${b && "stance" in b ? describeStance(b.stance) : "?"}`,
    );
  });

  program
    .command("endorse")
    .description("endorse the exact text of an understanding the mediator proposed")
    .argument("<understanding>", "the proposal's #number in your inbox, or the understanding id")
    .action(async (ref: string, _o, cmd: Command) => {
      const o = g(cmd);
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
