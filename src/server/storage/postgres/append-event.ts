import { eventRow, planAppend, rosterTargets, type AppendView } from "../append-rules.js";
import type { AppendEventInput, AppendEventResult, MembershipRecord } from "../storage.js";
import { bytes, toCaucus, toMembership, type CaucusRow, type MembershipRow } from "../rows.js";
import { removeDevicesStatement } from "./reads.js";
import type { BatchWrites } from "./group-commit.js";
import { executing, type PreparedText, type Statement } from "./statement.js";
import { lockCaucusesStatement, lockCaucusesText } from "./transaction.js";

/**
 * Everything the append reads, in one statement (one round trip): the caucus, the event already
 * stored under the id, the memberships of the devices named (sender, welcomed, removed) — a row
 * per membership found, the caucus's and the event's columns repeated, or one row with no
 * membership; no row: no such caucus — and the readers of the next event as the caucus stands
 * (joined members all; those a commit welcomes are still pending, so not among them).
 */
const appendRead: PreparedText = {
  name: "bc_append_read",
  text: `SELECT c.caucus_id, c.channel_id, c.epoch, c.head_seq, c.head_hash, c.ciphertext_bytes,
                (SELECT sum(x.ciphertext_bytes) FROM caucuses x
                 WHERE x.channel_id = c.channel_id)::bigint AS channel_bytes, c.deleted_through,
                (SELECT ch.delete_at FROM channels ch WHERE ch.channel_id = c.channel_id) AS delete_at,
                e.seq AS existing_seq, e.hash AS existing_hash, e.sender_device_id AS existing_sender,
                m.device_id, m.role, m.joined, m.from_seq, m.removed, m.invite_id, m.key_package,
                ARRAY(SELECT r.device_id FROM memberships r
                      WHERE r.caucus_id = c.caucus_id AND r.joined AND NOT r.removed
                        AND r.from_seq <= c.head_seq + 1
                      ORDER BY r.position) AS readers
         FROM caucuses c
         LEFT JOIN events e ON e.caucus_id = c.caucus_id AND e.event_id = $2
         LEFT JOIN memberships m ON m.caucus_id = c.caucus_id AND m.device_id = ANY($3::text[])
         WHERE c.caucus_id = $1`,
};

const readAppendView = (input: AppendEventInput): Statement =>
  executing(appendRead, [input.caucusId, input.eventId, [input.senderDeviceId, ...rosterTargets(input)]]);

/** The new event, and the caucus's head and epoch moved onto it. */
const appendEvent: PreparedText = {
  name: "bc_append_event",
  text: `WITH event AS (
           INSERT INTO events (caucus_id, seq, event_id, sender_device_id, kind, epoch, ciphertext, hash,
                               delete_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))
         UPDATE caucuses SET head_seq = $2, head_hash = $8, epoch = $10,
                             ciphertext_bytes = ciphertext_bytes + $11
         WHERE caucus_id = $1`,
};

/**
 * Storage.appendEvent (rules in append-rules.ts) as a GroupCommit runs it, in a transaction that
 * holds the caucus row's lock (lockCaucusesStatement) before it reads: no other append, on this
 * node or another, can move the head or the epoch between the read and the writes, so seq stays
 * gap-free and the first commit for an epoch wins. The primary key (caucus_id, seq) and the unique
 * event id are the backstop: a writer that skipped the lock would fail, not fork the chain.
 */
export const appendWrites: BatchWrites<AppendEventInput, AppendEventResult> = {
  prepare: [lockCaucusesText, appendRead, appendEvent],
  lock: (inputs) => lockCaucusesStatement(inputs.map((i) => i.caucusId)),
  read: readAppendView,
  write: (input, read) => appendStatements(input, read as AppendViewRow[]),
};

/** The answer to the append and the statements that store it, planned from what it read. */
function appendStatements(
  input: AppendEventInput,
  read: AppendViewRow[],
): { value: AppendEventResult; statements: Statement[] } {
  const plan = planAppend(toAppendView(read, input.senderDeviceId), input);
  const { seq, hash } = plan;
  if (plan.duplicate) return { value: { seq, hash, duplicate: true, readers: [] }, statements: [] };

  const statements = [
    executing(appendEvent, [...eventRow(input, plan), plan.nextEpoch, plan.ciphertext.length]),
  ];
  for (const w of input.welcomes) {
    // The commit itself is from the epoch before the device joined: it reads from the next event.
    statements.push({
      text: `WITH joined AS (
               UPDATE memberships SET joined = true, from_seq = $3, key_package = NULL
               WHERE caucus_id = $1 AND device_id = $2)
             INSERT INTO welcomes (caucus_id, device_id, welcome, seq, hash, anchor_proof)
             VALUES ($1, $2, $4, $5, $6, $7)`,
      values: [input.caucusId, w.deviceId, seq + 1, bytes(w.welcome), seq, hash, w.anchorProof ?? null],
    });
  }
  if (input.removes.length > 0) {
    statements.push({
      text: `UPDATE memberships SET removed = true, key_package = NULL
             WHERE caucus_id = $1 AND device_id = ANY($2::text[])`,
      values: [input.caucusId, input.removes],
    });
    for (const p of input.removalProofs ?? [])
      statements.push({
        text: "UPDATE memberships SET removal_proof = $1 WHERE caucus_id = $2 AND device_id = $3",
        values: [p.signature, input.caucusId, p.deviceId],
      });
    // A party device is in one caucus only: removed from it, it is done for.
    statements.push(removeDevicesStatement(input.removes, { partyOnly: true }));
  }
  // Read before the writes, under the lock: this commit's removes are the only change to them.
  const readers = read[0]!.readers.filter((d) => !input.removes.includes(d));
  return { value: { seq, hash, duplicate: false, readers }, statements };
}

type AppendViewRow = CaucusRow &
  Nullable<Omit<MembershipRow, "caucus_id" | "channel_id">> & {
    existing_seq: number | null;
    existing_hash: string | null;
    existing_sender: string | null;
    ciphertext_bytes: number;
    channel_bytes: number;
    readers: string[];
  };

type Nullable<T> = { [K in keyof T]: T[K] | null };

function toAppendView(found: AppendViewRow[], senderDeviceId: string): AppendView {
  const first = found[0];
  const members = new Map<string, MembershipRecord>();
  // A row with a membership has all of its NOT NULL columns.
  for (const r of found) if (r.device_id !== null) members.set(r.device_id, toMembership(r as MembershipRow));
  return {
    caucus: first && toCaucus(first),
    sender: members.get(senderDeviceId),
    existing: () =>
      first && first.existing_seq !== null && first.existing_hash !== null && first.existing_sender !== null
        ? { seq: first.existing_seq, hash: first.existing_hash, senderDeviceId: first.existing_sender }
        : undefined,
    membership: (deviceId) => members.get(deviceId),
    storedBytes: () => ({ caucus: first?.ciphertext_bytes ?? 0, channel: first?.channel_bytes ?? 0 }),
  };
}
