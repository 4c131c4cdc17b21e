import { createHash } from "node:crypto";
import type Database from "better-sqlite3";
import {
  dayMs,
  dueCaucusesSql,
  dueMessagesSql,
  markCaucusesSql,
  sweepSettings,
  type DueCaucusRow,
} from "../retention-rules.js";
import type { SweepOptions, SweepResult } from "../storage.js";

/** Named (better-sqlite3 does not number anonymous parameters). */
const param = (n: number) => `@p${n}`;

/** The statements of the retention sweeper (rules in ../retention-rules.ts), prepared once. */
export function prepareRetention(db: Database.Database) {
  const mark = db.prepare(markCaucusesSql(param));
  const due = db.prepare(dueCaucusesSql(param));
  const batch = db.prepare(
    `SELECT seq, kind, ciphertext, tombstone_sha256 FROM events
     WHERE caucus_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
  );
  const dueMessages = db.prepare(dueMessagesSql(param));
  const message = db.prepare("SELECT ciphertext FROM events WHERE caucus_id = ? AND seq = ?");
  const tombstone = db.prepare(
    `UPDATE events SET ciphertext = X'', tombstone_sha256 = ?, tombstone_bytes = ?
     WHERE caucus_id = ? AND seq = ? AND tombstone_sha256 IS NULL`,
  );
  const advance = db.prepare(
    "UPDATE caucuses SET deleted_through = max(deleted_through, ?) WHERE caucus_id = ?",
  );
  // What a tombstone deletes no longer counts against the caucus's quota.
  const credit = db.prepare(
    "UPDATE caucuses SET ciphertext_bytes = ciphertext_bytes - ? WHERE caucus_id = ?",
  );
  const dropMarks = db.prepare("DELETE FROM retention_marks WHERE caucus_id = ? AND head_seq <= ?");
  const dropWelcomes = db.prepare("DELETE FROM welcomes WHERE caucus_id = ?");
  const dropKeyPackages = db.prepare(
    "UPDATE memberships SET key_package = NULL WHERE caucus_id = ? AND key_package IS NOT NULL",
  );

  /** Turns one live application message into a tombstone, its bytes credited back; 1 if it did. */
  const tombstoneOne = (caucusId: string, seq: number, ciphertext: Buffer): number => {
    const sha256 = createHash("sha256").update(ciphertext).digest("hex");
    const changes = tombstone.run(sha256, ciphertext.length, caucusId, seq).changes;
    if (changes > 0) credit.run(ciphertext.length, caucusId);
    return changes;
  };

  /** One pass, in one immediate transaction: at most `batch` events are looked at. */
  return (now: number, options?: SweepOptions): SweepResult =>
    db
      .transaction((): SweepResult => {
        const { markIntervalMs, batch: budget } = sweepSettings(options);
        const marked = mark.run({ p1: now, p2: markIntervalMs }).changes;
        let tombstoned = 0;
        let left = budget;
        for (const c of due.all({ p1: now, p2: dayMs }) as DueCaucusRow[]) {
          if (left <= 0) break;
          const rows = batch.all(c.caucus_id, c.deleted_through, c.due_through, left) as {
            seq: number;
            kind: string;
            ciphertext: Buffer;
            tombstone_sha256: string | null;
          }[];
          left -= rows.length;
          for (const r of rows) {
            if (r.kind !== "application" || r.tombstone_sha256 !== null) continue;
            tombstoned += tombstoneOne(c.caucus_id, r.seq, r.ciphertext);
          }
          // A short batch reached due_through; a full one stops at its last event.
          const through = left > 0 || rows.length === 0 ? c.due_through : rows[rows.length - 1]!.seq;
          advance.run(through, c.caucus_id);
          dropMarks.run(c.caucus_id, through);
          if (c.deleting && through === c.due_through) {
            dropWelcomes.run(c.caucus_id);
            dropKeyPackages.run(c.caucus_id);
          }
        }
        // Then the messages whose sender's deletion time passed, with what is left of the batch.
        if (left > 0)
          for (const m of dueMessages.all({ p1: now, p2: left }) as { caucus_id: string; seq: number }[]) {
            const { ciphertext } = message.get(m.caucus_id, m.seq) as { ciphertext: Buffer };
            tombstoned += tombstoneOne(m.caucus_id, m.seq, ciphertext);
          }
        return { marked, tombstoned };
      })
      .immediate();
}
