import type { DeviceCore } from "./device-core.js";
import { sendEvent } from "./outbound.js";

/**
 * Withholding, detected within a bound (issue 7, item 6). A relay can freeze what one device sees
 * — every answer consistent, just old — and nothing in the chain shows it. Only signed time from
 * someone else can: every message carries its sender's `sentAt` inside the ciphertext. So the
 * mediator's devices make sure each caucus hears from the mediator at least every
 * `heartbeatEveryMs` (a `heartbeat` when nothing else was said), and a member that has heard
 * nothing from the mediator for `quietAfterMs` says so: the relay may be withholding newer events
 * (or the mediator is offline — the device cannot tell which).
 *
 * Still undetectable: anything shorter than the bound; a relay that withholds from every member
 * and the mediator alike; a mediator whose devices are all offline (then every member sees the
 * warning, which is the honest answer); clocks more than the slack apart.
 */
export const heartbeatEveryMs = 10 * 60_000;
export const quietAfterMs = 2 * heartbeatEveryMs + 5 * 60_000;

/** When this caucus last heard from a mediator device (any, this one included): its sentAt. */
function lastMediatorWord(core: DeviceCore, caucusId: string): number | undefined {
  const entries = core.caucus(caucusId).record.entries;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (e.senderRole !== "mediator") continue;
    // A burnt message keeps when it was sent (core/burn.ts): its words went, not its time.
    const sentAt = e.payload?.sentAt ?? e.burnt?.sentAt;
    if (sentAt !== undefined) return Date.parse(sentAt);
  }
  return undefined;
}

/** A mediator device: a heartbeat into every caucus that has not heard from the mediator lately. */
export async function postHeartbeats(core: DeviceCore): Promise<void> {
  for (const caucus of core.caucuses()) {
    const r = caucus.record;
    if (r.removed || r.problem || !r.group || r.closed) continue;
    // A caucus the mediator has said nothing in has no member waiting to hear from it yet (an
    // admission is followed by a channel_info).
    const last = lastMediatorWord(core, caucus.caucusId);
    if (last === undefined || core.now() - last < heartbeatEveryMs) continue;
    try {
      await sendEvent(core, caucus.caucusId, { type: "heartbeat" });
    } catch {
      // Best effort: the next sync tries again, and members' warnings say what it means.
    }
  }
}

/**
 * Every device, after a sync: mark the caucuses that heard nothing from the mediator lately.
 * Returns whether any mark changed (the caller saves only then).
 */
export function markQuietCaucuses(core: DeviceCore): boolean {
  let changed = false;
  for (const caucus of core.caucuses()) {
    const r = caucus.record;
    // A closed channel's mediator has nothing more to say: its silence means nothing.
    const last = r.removed || !r.group || r.closed ? undefined : lastMediatorWord(core, caucus.caucusId);
    const quietSince =
      last !== undefined && core.now() - last > quietAfterMs ? new Date(last).toISOString() : undefined;
    if (quietSince === r.quietSince) continue;
    changed = true;
    if (quietSince) r.quietSince = quietSince;
    else delete r.quietSince;
  }
  return changed;
}
