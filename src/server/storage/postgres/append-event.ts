import type { PoolClient } from "pg";
import { eventRow, planAppend, rosterTargets } from "../append-rules.js";
import type { AppendEventInput, AppendEventResult, MembershipRecord } from "../storage.js";
import { bytes } from "../rows.js";
import { readCaucus, readMemberships, removeDevices } from "./reads.js";
import { firstRow } from "./transaction.js";

/**
 * The body of Storage.appendEvent (rules in append-rules.ts), inside a transaction that already
 * holds the caucus row's lock (lockCaucuses): no other append, on this node or another, can move
 * the head or the epoch between the reads here and the writes, so seq stays gap-free and the
 * first commit for an epoch wins. The primary key (caucus_id, seq) and the unique event id are
 * the backstop: a writer that skipped the lock would fail, not fork the chain.
 */
export async function appendEvent(db: PoolClient, input: AppendEventInput): Promise<AppendEventResult> {
  const caucus = await readCaucus(db, input.caucusId);
  const members = caucus
    ? await readMemberships(db, input.caucusId, [input.senderDeviceId, ...rosterTargets(input)])
    : new Map<string, MembershipRecord>();
  const existing = await firstRow<{ seq: number; hash: string; sender_device_id: string }>(
    db,
    "SELECT seq, hash, sender_device_id FROM events WHERE caucus_id = $1 AND event_id = $2",
    [input.caucusId, input.eventId],
  );
  const plan = planAppend(
    {
      caucus,
      sender: members.get(input.senderDeviceId),
      existing: () =>
        existing && { seq: existing.seq, hash: existing.hash, senderDeviceId: existing.sender_device_id },
      membership: (deviceId) => members.get(deviceId),
    },
    input,
  );
  const { seq, hash } = plan;
  if (plan.duplicate) return { seq, hash, duplicate: true };

  await db.query(
    `WITH event AS (
       INSERT INTO events (caucus_id, seq, event_id, sender_device_id, kind, epoch, ciphertext, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
     UPDATE caucuses SET head_seq = $2, head_hash = $8, epoch = $9 WHERE caucus_id = $1`,
    [...eventRow(input, plan), plan.nextEpoch],
  );
  for (const w of input.welcomes) {
    // The commit itself is from the epoch before the device joined: it reads from the next event.
    await db.query(
      `WITH joined AS (
         UPDATE memberships SET joined = true, from_seq = $3, key_package = NULL
         WHERE caucus_id = $1 AND device_id = $2)
       INSERT INTO welcomes (caucus_id, device_id, welcome, seq, hash, anchor_proof)
       VALUES ($1, $2, $4, $5, $6, $7)`,
      [input.caucusId, w.deviceId, seq + 1, bytes(w.welcome), seq, hash, w.anchorProof ?? null],
    );
  }
  if (input.removes.length > 0) {
    await db.query(
      `UPDATE memberships SET removed = true, key_package = NULL
       WHERE caucus_id = $1 AND device_id = ANY($2::text[])`,
      [input.caucusId, input.removes],
    );
    for (const p of input.removalProofs ?? [])
      await db.query("UPDATE memberships SET removal_proof = $1 WHERE caucus_id = $2 AND device_id = $3", [
        p.signature,
        input.caucusId,
        p.deviceId,
      ]);
    // A party device is in one caucus only: removed from it, it is done for.
    await removeDevices(db, input.removes, { partyOnly: true });
  }
  return { seq, hash, duplicate: false };
}
