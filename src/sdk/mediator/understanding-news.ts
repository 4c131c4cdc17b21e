import { sha256HexOf, utf8 } from "../../protocol/index.js";
import type { DeviceCore } from "../core/device-core.js";
import { sendEvent } from "../core/outbound.js";
import { understandingStatus } from "../understanding.js";
import { channels } from "./channels.js";

/**
 * Tells each party when an understanding was reached (issue 11, item 1). Only the mediator sees
 * every caucus, so only it can know that every party endorsed the identical text (invariant 4);
 * once it does, each caucus that has not heard it yet gets an `understanding_reached` with the
 * exact words and their hash. It names no one: a party learns that the others endorsed, never who
 * handles them. Two mediator devices may both say it; a party reads it once per understanding.
 */
export async function announceReachedUnderstandings(core: DeviceCore): Promise<void> {
  for (const channel of channels(core)) {
    // A device that is not in every caucus of the channel cannot see that all endorsed.
    if (!channel.caucuses.every((c) => core.hasCaucus(c.caucusId))) continue;
    const statuses = understandingStatus(
      channel.caucuses.map((c) => ({
        partyName: c.partyName,
        entries: core.caucus(c.caucusId).record.entries,
      })),
    );
    for (const u of statuses.filter((s) => s.reached))
      for (const { caucusId } of channel.caucuses) {
        const r = core.caucus(caucusId).record;
        if (r.removed || r.problem || !r.group || r.closed) continue;
        const told = r.entries.some(
          (e) =>
            e.senderRole === "mediator" &&
            e.payload?.body.type === "understanding_reached" &&
            e.payload.body.understandingId === u.understandingId,
        );
        if (told) continue;
        try {
          await sendEvent(core, caucusId, {
            type: "understanding_reached",
            understandingId: u.understandingId,
            textSha256: sha256HexOf(utf8(u.text)),
            text: u.text,
          });
        } catch {
          // Best effort, like a heartbeat: the next sync tries again.
        }
      }
  }
}
