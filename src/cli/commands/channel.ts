import pc from "picocolors";
import { CliError, openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { parseDuration } from "../duration.js";
import { collect } from "../repeatable.js";
import { resolveCaucus, resolveChannel } from "../resolve.js";

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
    .option(
      "--retention <days>",
      "the relay deletes each message this many days after it was sent (default: kept)",
      parseRetentionDays,
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const c = await m.createChannel({
        topic: o.topic,
        parties: o.party,
        ...(o.retention !== undefined ? { retentionDays: o.retention } : {}),
      });
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
    .option(
      "--expires <duration>",
      "how long the code stays valid: 30m, 24h, 7d (at most 30d)",
      parseDuration,
    )
    .option(
      "--no-confirm",
      "admit whoever redeems it without comparing verification codes first (low-stakes channels only)",
    )
    .action(async (party, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const c = resolveCaucus(m, party, o.channel);
      const invite = await m.invite(c.caucusId, {
        confirm: o.confirm,
        ...(o.expires !== undefined ? { expiresInMs: o.expires } : {}),
      });
      output(
        o,
        { ...invite, caucusId: c.caucusId, party: c.partyName },
        `One-time invite for ${c.partyName}'s handler, valid until ${invite.expiresAt} (show it once, out of band; it pins your key):\n\n${invite.code}\n\nor, to read aloud, the short code (works once, with the relay's address):\n\n  ${invite.shortCode}\n\nThe handler runs: backchannel join <code>, or backchannel join --server <relay URL> <short code>\n` +
          (invite.confirm
            ? "Then run `backchannel admissions` here, compare the verification code with the handler, and `backchannel admit " +
              c.partyName +
              "`."
            : "Then run `backchannel inbox` here: the device is admitted without comparing codes (--no-confirm)."),
      );
    });

  channel
    .command("revoke")
    .description("revoke an invite: nobody is admitted with it any more (an admitted handler stays)")
    .argument("<invite-id>", "the id `channel invite` printed")
    .action(async (inviteId, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const r = await m.revokeInvite(inviteId);
      output(
        o,
        r,
        `Revoked invite ${inviteId}.${r.droppedDeviceId ? ` The device that redeemed it (${r.droppedDeviceId}) was dropped.` : ""}`,
      );
    });

  channel
    .command("retention")
    .description("set how long the relay keeps the channel's messages (README: Retention)")
    .argument("[channel]", "channel id or topic (needed only if you have several)")
    .option("--days <n>", "delete each message this many days after it was sent", parseRetentionDays)
    .option("--keep", "keep messages (lift the retention)")
    .action(async (ref: string | undefined, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      if ((o.days === undefined) === !o.keep)
        throw new CliError("invalid_request", "give either --days <n> or --keep");
      const m = await openMediator(o);
      const r = await m.setRetention(resolveChannel(m, ref), o.keep ? null : (o.days as number));
      output(
        o,
        r,
        r.retentionDays === undefined
          ? "The relay keeps this channel's messages."
          : `The relay deletes each message of this channel ${r.retentionDays} day(s) after it was sent (devices burn their copies).`,
      );
    });

  channel
    .command("close")
    .description("close a channel: nothing more can be sent; its messages are deleted after a grace period")
    .argument("[channel]", "channel id or topic (needed only if you have several)")
    .action(async (ref: string | undefined, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const r = await m.closeChannel(resolveChannel(m, ref));
      output(
        o,
        r,
        `Closed. The parties see the channel closed; the relay refuses every new message and deletes the channel's messages at ${r.closed?.deleteAt ?? "the end of its grace period"}.`,
      );
    });
}

/** Whole days, 1 to 3650 (the relay's bounds). */
function parseRetentionDays(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650)
    throw new CliError("invalid_request", "retention is a whole number of days, 1 to 3650");
  return n;
}
