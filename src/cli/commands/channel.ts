import pc from "picocolors";
import { openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { collect } from "../repeatable.js";
import { resolveCaucus } from "../resolve.js";

/** `backchannel channel create | list | invite` (mediator). */
export function registerChannelCommand(program: Program): void {
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
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const c = await m.createChannel({ topic: o.topic, parties: o.party });
      output(
        o,
        c,
        `Channel ${c.channelId} “${c.topic}”\n${c.caucuses.map((x) => `  ${x.partyName}: caucus ${x.caucusId}`).join("\n")}\nNext: backchannel channel invite <party> — once per party's designated handler.`,
      );
    });

  channel
    .command("list")
    .description("your channels and their caucuses")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
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
    .action(async (party, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const c = resolveCaucus(m, party, o.channel);
      const { code, inviteId } = await m.invite(c.caucusId);
      output(
        o,
        { code, inviteId, caucusId: c.caucusId, party: c.partyName },
        `One-time invite for ${c.partyName}'s handler (show it once, out of band; it pins your key):\n\n${code}\n\nThe handler runs: backchannel join <code>\nThen run \`backchannel inbox\` here to admit the device.`,
      );
    });
}
