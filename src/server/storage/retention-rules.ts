import type { SweepOptions } from "./storage.js";

/**
 * The rules of Storage.sweepRetention, written once for every backend.
 *
 * Events carry no time (invariant 1), so age is read from marks: once per `markIntervalMs`, each
 * caucus of a channel with a retention period gets a mark (now, its head seq). Every event up to a
 * mark's seq existed at the mark's time, so when the newest mark at least `retentionDays` old
 * says seq N, every application message up to N is due. An event therefore becomes a tombstone
 * between `retentionDays` and `retentionDays + markIntervalMs` after its append, and the relay can
 * date events only to the mark interval, only while they are kept: a mark goes once every event
 * it dates is a tombstone.
 *
 * A closed channel's caucuses are due up to their head at its deleteAt (no event follows a
 * close); their Welcomes still waiting and pending key packages go then too.
 *
 * A tombstone keeps the envelope (seq, event id, sender, kind, epoch), the chain hash and the
 * SHA-256 and size of the deleted ciphertext: exactly what the chain's hash covers
 * (protocol/transcript.ts), so every device still verifies through it. Commits are never
 * tombstoned: they carry no message, and a device that has not yet applied one needs it to stay
 * in the group.
 *
 * An application message whose sender gave a deletion time (AppendEventInput rule 8,
 * protocol/relay-deletion.ts) is due once that time passes, whatever its channel's retention: it
 * becomes the same tombstone, and its bytes leave the quota count the same way. Those are single
 * messages, not a prefix of the chain, so they do not move `deleted_through` (which tells devices
 * that everything before it is gone); each is found by an index of the messages still waiting.
 *
 * Each caucus's `deleted_through` moves forward only, tombstones are written only over live rows,
 * and marks are inserted once per (caucus, time): two nodes sweeping at once do the work once.
 */
export const retentionDefaults = { markIntervalMs: 60 * 60_000, batch: 500 } as const;

export const dayMs = 86_400_000;

export const sweepSettings = (options: SweepOptions = {}) => ({
  markIntervalMs: options.markIntervalMs ?? retentionDefaults.markIntervalMs,
  batch: options.batch ?? retentionDefaults.batch,
});

/**
 * The caucuses with messages due, each with the seq they are due up to: its head for a channel
 * whose deleteAt passed, else the newest mark at least its retention old. Same SQL on both
 * backends; parameters: now, day length in ms.
 */
export const dueCaucusesSql = (p: (n: number) => string) => `
  SELECT caucus_id, deleted_through, due_through, deleting FROM (
    SELECT c.caucus_id, c.deleted_through,
           ch.delete_at IS NOT NULL AND ch.delete_at <= ${p(1)} AS deleting,
           CASE WHEN ch.delete_at IS NOT NULL AND ch.delete_at <= ${p(1)} THEN c.head_seq
                ELSE (SELECT max(m.head_seq) FROM retention_marks m
                      WHERE m.caucus_id = c.caucus_id
                        AND m.marked_at <= ${p(1)} - ch.retention_days * ${p(2)}) END AS due_through
    FROM caucuses c JOIN channels ch ON ch.channel_id = c.channel_id
    WHERE ch.retention_days IS NOT NULL OR ch.delete_at IS NOT NULL) AS d
  WHERE due_through > deleted_through
  ORDER BY caucus_id`;

/**
 * The application messages whose sender's deletion time passed and that still hold ciphertext,
 * soonest due first. Same SQL on both backends; parameters: now, batch size.
 */
export const dueMessagesSql = (p: (n: number) => string) => `
  SELECT caucus_id, seq FROM events
  WHERE delete_at IS NOT NULL AND delete_at <= ${p(1)} AND tombstone_sha256 IS NULL
    AND kind = 'application'
  ORDER BY delete_at, caucus_id, seq
  LIMIT ${p(2)}`;

/** Marks each retained, open caucus whose newest mark is older than the interval. Parameters: now, interval. */
export const markCaucusesSql = (p: (n: number) => string) => `
  INSERT INTO retention_marks (caucus_id, marked_at, head_seq)
  SELECT c.caucus_id, ${p(1)}, c.head_seq
  FROM caucuses c JOIN channels ch ON ch.channel_id = c.channel_id
  WHERE ch.retention_days IS NOT NULL AND ch.delete_at IS NULL AND c.head_seq > c.deleted_through
    AND NOT EXISTS (SELECT 1 FROM retention_marks m
                    WHERE m.caucus_id = c.caucus_id AND m.marked_at > ${p(1)} - ${p(2)})
  ON CONFLICT DO NOTHING`;

export type DueCaucusRow = {
  caucus_id: string;
  deleted_through: number;
  due_through: number;
  deleting: number | boolean;
};
