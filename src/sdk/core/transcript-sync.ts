import { extendChain, type TranscriptProblem } from "../../protocol/index.js";
import type { Head, TranscriptEntry } from "../device-state.js";
import { verifyRemovalProof } from "../../crypto/mls/credential.js";
import { ApiError } from "../errors.js";
import type { Caucus } from "./caucus.js";
import { burnDue } from "./burn.js";
import { applyEvents } from "./caucus-log.js";
import { markQuietCaucuses } from "./liveness.js";
import type { DeviceCore } from "./device-core.js";

export interface VerifyReport {
  caucusId: string;
  ok: boolean;
  events: number;
  head: Head;
  problem?: TranscriptProblem;
}

/** Fetches and verifies everything new in every caucus (the caller holds the lock). */
export async function syncAll(core: DeviceCore): Promise<Map<string, TranscriptEntry[]>> {
  try {
    return await syncEverything(core);
  } catch (e) {
    // The relay refuses a removed device any login; believed only on the mediator's signed word.
    if (e instanceof ApiError && e.code === "device_removed")
      await confirmRemoval(
        core,
        core.caucuses().filter((c) => !c.record.removed),
        "device_removed",
      );
    throw e;
  }
}

async function syncEverything(core: DeviceCore): Promise<Map<string, TranscriptEntry[]>> {
  const out = new Map<string, TranscriptEntry[]>();
  await core.hooks.beforeSync();
  for (const caucusId of core.caucusIds()) {
    const added = await syncCaucus(core, caucusId);
    if (added.length) out.set(caucusId, added);
  }
  await core.hooks.afterSync();
  if (markQuietCaucuses(core)) await core.save();
  return out;
}

function eventsAfter(core: DeviceCore, caucusId: string, seq: number) {
  return core.session.withRetry(() =>
    core.api().call("listEvents", { params: { caucusId }, query: { after: seq } }),
  );
}

/**
 * The relay refused these caucuses. Each one the mediator signed this device's removal from is
 * marked removed (its group state dropped); the others keep everything, marked as refused, and
 * are tried again on the next sync.
 */
async function confirmRemoval(core: DeviceCore, caucuses: Caucus[], code: string): Promise<void> {
  let proofs: { caucusId: string; signature: string }[] = [];
  try {
    proofs = await core.session.removalProofs();
  } catch {
    // No proof to be had now: nothing is concluded.
  }
  for (const caucus of caucuses) {
    const signed = proofs.some(
      (p) =>
        p.caucusId === caucus.caucusId &&
        verifyRemovalProof(
          core.state.mediatorKey,
          { caucusId: caucus.caucusId, deviceId: core.deviceId },
          p.signature,
        ),
    );
    if (signed) {
      delete caucus.record.accessRefused;
      caucus.markRemoved();
    } else caucus.record.accessRefused = code;
  }
  await core.save();
}

/** Fetches and verifies what is new in one caucus; returns the entries it added. */
export async function syncCaucus(core: DeviceCore, caucusId: string): Promise<TranscriptEntry[]> {
  const caucus = core.caucus(caucusId);
  const record = caucus.record;
  const all: TranscriptEntry[] = [];
  if (record.removed || !record.group) return all;
  for (;;) {
    let page;
    try {
      page = await eventsAfter(core, caucusId, record.head.seq);
    } catch (e) {
      // The relay cuts a removed device off at its remove commit, so the device never sees that
      // commit. "Not found" from a caucus it had joined may mean it was removed, or a relay that
      // lies: only the mediator's signature over the removal says which (issue 7, item 4).
      if (e instanceof ApiError && e.code === "not_found") {
        await confirmRemoval(core, [caucus], "not_found");
        return all;
      }
      throw e;
    }
    if (record.accessRefused) delete record.accessRefused;
    if (page.head.seq < record.head.seq && !record.problem) {
      record.problem = {
        kind: "fork",
        seq: record.head.seq,
        detail: `the server's head (#${page.head.seq}) is behind events this device already verified`,
      };
    }
    const { added, problem } = await applyEvents(caucus, page.events, {
      deviceId: core.deviceId,
      now: core.now,
    });
    all.push(...added);
    if (page.closed) record.closed = true;
    core.burnt(caucusId, burnDue(record, core.now(), page.deletedThrough));
    // Same length, different head: the server rewrote events this device already verified.
    // Caught here, not only by verify(), so nothing is encrypted onto a chain we never saw.
    if (!record.problem && record.head.seq === page.head.seq && record.head.hash !== page.head.hash) {
      record.problem = (await rescan(core, caucus)) ?? {
        kind: "fork",
        seq: record.head.seq,
        detail: `the server's head #${page.head.seq} is not the event this device verified (history was rewritten)`,
      };
    }
    await core.save(caucusId);
    if (problem || record.removed || page.events.length === 0 || record.head.seq >= page.head.seq) break;
  }
  return all;
}

/**
 * Re-reads the whole transcript from the server and checks it against what this device verified
 * before: a changed, missing, extra or reordered event is reported (the caller holds the lock).
 */
export async function verifyAll(core: DeviceCore): Promise<VerifyReport[]> {
  await syncAll(core);
  const reports: VerifyReport[] = [];
  for (const caucus of core.caucuses()) {
    const record = caucus.record;
    if (!record.problem && !record.removed && record.group) {
      const problem = await rescan(core, caucus);
      if (problem) record.problem = problem;
    }
    reports.push({
      caucusId: record.caucusId,
      ok: !record.problem,
      events: record.entries.length,
      head: record.head,
      ...(record.problem ? { problem: record.problem } : {}),
    });
  }
  await core.save();
  return reports;
}

/** Re-reads the caucus from this device's anchor; returns the first difference from what it verified. */
async function rescan(core: DeviceCore, caucus: Caucus): Promise<TranscriptProblem | undefined> {
  const record = caucus.record;
  let head = record.anchor;
  const known = new Map(record.entries.map((e) => [e.seq, e]));
  for (;;) {
    const page = await eventsAfter(core, record.caucusId, head.seq);
    for (const e of page.events) {
      const r = extendChain(head, [{ ...e, caucusId: record.caucusId }]);
      if (!r.ok) return r.problem;
      const mine = known.get(e.seq);
      if (mine && (mine.hash !== e.hash || mine.eventId !== e.eventId))
        return { kind: "altered", seq: e.seq, eventId: e.eventId };
      head = r.head;
    }
    if (page.events.length === 0 || head.seq >= page.head.seq) break;
  }
  if (head.seq < record.head.seq)
    return {
      kind: "fork",
      seq: head.seq + 1,
      detail: `the server's history ends at #${head.seq}, but this device verified events up to #${record.head.seq}`,
    };
  return undefined;
}
