import type { Mediator, TranscriptEntry } from "../sdk/index.js";
import { findEntry } from "../sdk/index.js";
import { CliError } from "./context.js";

/** A caucus named by id or by party name ("B"), optionally within one channel. */
export function resolveCaucus(
  m: Mediator,
  ref: string,
  channelRef?: string,
): { caucusId: string; partyName: string; channelId: string } {
  // --channel takes an id or a topic, as its help says.
  const channelId = channelRef === undefined ? undefined : resolveChannel(m, channelRef);
  const matches = m
    .channels()
    .filter((c) => !channelId || c.channelId === channelId)
    .flatMap((c) => c.caucuses.map((x) => ({ ...x, channelId: c.channelId })))
    .filter((x) => x.caucusId === ref || x.partyName.toLowerCase() === ref.trim().toLowerCase());
  if (matches.length === 1) return matches[0]!;
  if (!matches.length)
    throw new CliError(
      "caucus_unknown",
      `no caucus or party called “${ref}”${channelId ? " in that channel" : ""}`,
    );
  throw new CliError("caucus_ambiguous", `“${ref}” names a party in several channels: add --channel`);
}

export function resolveChannel(m: Mediator, ref?: string): string {
  const all = m.channels();
  if (ref) {
    const c = all.find((x) => x.channelId === ref || x.topic.toLowerCase() === ref.toLowerCase());
    if (!c) throw new CliError("channel_unknown", `no channel “${ref}”`);
    return c.channelId;
  }
  if (all.length === 1) return all[0]!.channelId;
  throw new CliError(
    "channel_required",
    all.length
      ? "several channels: pass --channel <id or topic>"
      : "no channels yet: run `backchannel channel create`",
  );
}

export function resolveEntry(entries: readonly TranscriptEntry[], ref: string): TranscriptEntry {
  const e = findEntry(entries, ref);
  if (!e)
    throw new CliError(
      "event_unknown",
      `no event “${ref}” in that caucus (use its #number from the inbox or its id)`,
    );
  return e;
}
