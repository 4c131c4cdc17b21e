import { Option, type Command } from "commander";
import pc from "picocolors";
import { openMediator, output, commandOptions } from "../context.js";
import { renderTranscript } from "../render.js";
import { resolveCaucus, resolveChannel, resolveEntry } from "../resolve.js";

const g = commandOptions;
const collect = (v: string, prev: string[]) => [...prev, v];

export function registerMediatorCommands(program: Command): void {
  const channel = program.command("channel").description("channels (mediator)");
  channel
    .command("create")
    .description("open a channel with one private caucus per party")
    .requiredOption("--topic <topic>", "what the channel is about (parties see it; the server never does)")
    .requiredOption(
      "--party <name>",
      "a party's display name (repeat for each party, at least two)",
      collect,
      [],
    )
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      const c = await m.createChannel({ topic: String(o.topic), parties: o.party as unknown as string[] });
      output(
        o,
        c,
        `Channel ${c.channelId} “${c.topic}”\n${c.caucuses.map((x) => `  ${x.partyName}: caucus ${x.caucusId}`).join("\n")}\nNext: backchannel channel invite <party> — once per party's designated handler.`,
      );
    });

  channel
    .command("list")
    .description("your channels and their caucuses")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      await m.sync();
      const chans = m.channels().map((c) => ({
        ...c,
        caucuses: c.caucuses.map((x) => ({
          ...x,
          handlers: m.handlers(x.caucusId).length,
          events: m.entries(x.caucusId).length,
          verified: !m.caucus(x.caucusId).problem,
        })),
      }));
      output(
        o,
        { channels: chans },
        chans
          .map(
            (c) =>
              `${pc.bold(c.topic)} ${pc.dim(c.channelId)}\n${c.caucuses.map((x) => `  ${x.partyName}: ${x.handlers} handler device(s), ${x.events} events${x.verified ? "" : pc.red(" — TRANSCRIPT PROBLEM")} ${pc.dim(x.caucusId)}`).join("\n")}`,
          )
          .join("\n") || "No channels yet.",
      );
    });

  channel
    .command("invite")
    .description("make a one-time invite code for a party's designated handler (give it out of band)")
    .argument("<party>", "party name or caucus id")
    .option("--channel <id or topic>", "which channel, if you have several")
    .action(async (party: string, _o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      const c = resolveCaucus(m, party, o.channel);
      const { code, inviteId } = await m.invite(c.caucusId);
      output(
        o,
        { code, inviteId, caucusId: c.caucusId, party: c.partyName },
        `One-time invite for ${c.partyName}'s handler (show it once, out of band; it pins your key):\n\n${code}\n\nThe handler runs: backchannel join <code>\nThen run \`backchannel inbox\` here to admit the device.`,
      );
    });

  program
    .command("convey")
    .description(
      "carry a party's signal (or acknowledgement) to the other caucus(es), as its sender allowed; posts the receipt",
    )
    .requiredOption("--from <party>", "the caucus it was said in (party name or caucus id)")
    .requiredOption("--event <ref>", "the signal: its #number in that caucus, or its id")
    .addOption(
      new Option("--mode <mode>", "verbatim or substance")
        .choices(["verbatim", "substance"])
        .makeOptionMandatory(),
    )
    .option("--text <words>", "your wording (required for substance)")
    .option("--to <party>", "target caucus (repeatable; default: every other party)", collect, [])
    .option("--anonymous", "attribute it to “a party” instead of naming the sender")
    .option("--channel <id or topic>", "which channel, if you have several")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      await m.sync();
      const from = resolveCaucus(m, String(o.from), o.channel);
      const entry = resolveEntry(m.entries(from.caucusId), String(o.event));
      // The sdk refuses what the sender did not allow (the disclosure policy), with the same codes.
      const to = (o.to as unknown as string[]).map((t) => resolveCaucus(m, t, from.channelId).caucusId);
      const r = await m.convey({
        from: from.caucusId,
        eventId: entry.eventId,
        mode: o.mode as "verbatim" | "substance",
        ...(o.text ? { text: String(o.text) } : {}),
        ...(to.length ? { to } : {}),
        ...(o.anonymous ? { attribution: "anonymous" as const } : {}),
      });
      const rb = r.receipt.payload?.body;
      output(
        o,
        r,
        `Conveyed #${entry.seq} from ${from.partyName} to ${rb?.type === "receipt" ? rb.toParties.join(", ") : "?"} (${String(o.mode)}).\nReceipt #${r.receipt.seq} posted in ${from.partyName}'s caucus with the exact words used.`,
      );
    });

  program
    .command("note")
    .description("write a note into a caucus (the mediator's own words to that party)")
    .requiredOption("--to <party>", "party name or caucus id")
    .requiredOption("--text <words>", "the note")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      const c = resolveCaucus(m, String(o.to), o.channel);
      const e = await m.note(c.caucusId, String(o.text));
      output(o, e, `Note #${e.seq} sent to ${c.partyName}.`);
    });

  const understanding = program
    .command("understanding")
    .description("understandings: texts every party endorses word for word");
  understanding
    .command("propose")
    .description("propose an understanding's exact text to every party of a channel")
    .requiredOption("--text <words>", "the exact text")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      const id = await m.proposeUnderstanding(resolveChannel(m, o.channel), String(o.text));
      output(o, { understandingId: id }, `Proposed understanding ${id} to every party.`);
    });
  understanding
    .command("status")
    .description("which parties endorsed which text; an understanding exists only if all did, identically")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
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

  program
    .command("remove")
    .description(
      "remove a handler's device from a caucus (re-keys the caucus; the device can read nothing sent afterwards)",
    )
    .requiredOption("--caucus <party>", "party name or caucus id")
    .requiredOption("--device <id>", "the handler device id (see `backchannel whoami`)")
    .option("--channel <id or topic>", "which channel")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      const c = resolveCaucus(m, String(o.caucus), o.channel);
      await m.removeDevice(c.caucusId, String(o.device));
      output(
        o,
        { removed: o.device, caucusId: c.caucusId },
        `Removed ${String(o.device)} from ${c.partyName}'s caucus; the caucus was re-keyed.`,
      );
    });

  program
    .command("show")
    .description("show one caucus's transcript (mediator)")
    .argument("<party>", "party name or caucus id")
    .option("--channel <id or topic>", "which channel")
    .action(async (party: string, _o, cmd: Command) => {
      const o = g(cmd);
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
