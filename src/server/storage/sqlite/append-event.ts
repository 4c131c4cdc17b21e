import { eventRow, planAppend } from "../append-rules.js";
import type { AppendEventInput, AppendEventResult } from "../storage.js";
import { bytes } from "../rows.js";
import { readCaucus, readMembership } from "./reads.js";
import type { Statements } from "./statements.js";

/**
 * The body of Storage.appendEvent (rules in append-rules.ts). Synchronous, and must run inside
 * one immediate transaction: every check reads state that the writes below then depend on.
 */
export function appendEventSync(stmt: Statements, input: AppendEventInput): AppendEventResult {
  const caucus = readCaucus(stmt, input.caucusId);
  const plan = planAppend(
    {
      caucus,
      sender: caucus && readMembership(stmt, input.caucusId, input.senderDeviceId),
      existing: () => {
        const r = stmt.findEvent.get(input.caucusId, input.eventId) as
          { seq: number; sender_device_id: string; hash: string } | undefined;
        return r && { seq: r.seq, hash: r.hash, senderDeviceId: r.sender_device_id };
      },
      membership: (deviceId) => readMembership(stmt, input.caucusId, deviceId),
      storedBytes: () => stmt.storedBytes.get(input.caucusId) as { caucus: number; channel: number },
    },
    input,
  );
  const { seq, hash } = plan;
  if (plan.duplicate) return { seq, hash, duplicate: true, readers: [] };
  stmt.insertEvent.run(...eventRow(input, plan));
  stmt.advanceHead.run(seq, hash, plan.nextEpoch, plan.ciphertext.length, input.caucusId);
  for (const w of input.welcomes) {
    // The commit itself is from the epoch before the device joined: it reads from the next event.
    stmt.joinMember.run(seq + 1, input.caucusId, w.deviceId);
    stmt.insertWelcome.run(input.caucusId, w.deviceId, bytes(w.welcome), seq, hash, w.anchorProof ?? null);
  }
  for (const d of input.removes) stmt.removeMember.run(input.caucusId, d);
  for (const p of input.removalProofs ?? [])
    stmt.setRemovalProof.run(p.signature, input.caucusId, p.deviceId);
  const readers = stmt.readersOfEvent.all(input.caucusId, seq) as { device_id: string }[];
  return { seq, hash, duplicate: false, readers: readers.map((r) => r.device_id) };
}
