import {
  dayMs,
  dueCaucusesSql,
  dueMessagesSql,
  markCaucusesSql,
  sweepSettings,
  type DueCaucusRow,
} from "../retention-rules.js";
import type { SweepOptions, SweepResult } from "../storage.js";
import { changed, firstRow, rows, type Queryable } from "./transaction.js";

const param = (n: number) => `$${n}::bigint`;

/**
 * One caucus's batch in one statement (its own transaction): the events after deleted_through up
 * to due_through, at most $4 of them; their application messages that still hold ciphertext
 * become tombstones (PostgreSQL's sha256() hashes the bytes the row holds, as the link did), and
 * deleted_through moves to the batch's end, never back; the bytes deleted leave the caucus's quota
 * count (ciphertext_bytes). Two nodes running it at once: the second
 * waits on the first's row locks, then finds those rows already tombstoned and skips them.
 */
const tombstoneBatch = `
  WITH batch AS (
    SELECT seq FROM events WHERE caucus_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4),
  done AS (
    UPDATE events SET tombstone_sha256 = encode(sha256(ciphertext), 'hex'),
                      tombstone_bytes = octet_length(ciphertext), ciphertext = '\\x'::bytea
    WHERE caucus_id = $1 AND seq IN (SELECT seq FROM batch)
      AND kind = 'application' AND tombstone_sha256 IS NULL
    RETURNING tombstone_bytes),
  through AS (
    SELECT CASE WHEN count(*) < $4 THEN $3::bigint ELSE max(seq) END AS seq, count(*) AS looked
    FROM batch),
  advanced AS (
    UPDATE caucuses SET deleted_through = GREATEST(deleted_through, (SELECT seq FROM through)),
                        ciphertext_bytes = ciphertext_bytes - (SELECT COALESCE(sum(tombstone_bytes), 0) FROM done)
    WHERE caucus_id = $1)
  SELECT (SELECT seq FROM through) AS through, (SELECT looked FROM through) AS looked,
         (SELECT count(*) FROM done) AS tombstoned`;

/**
 * The messages whose sender's deletion time passed, at most $2 of them, in one statement: each
 * becomes a tombstone as in tombstoneBatch, and its bytes leave its caucus's quota count. A row
 * another node tombstoned meanwhile fails the re-checked `tombstone_sha256 IS NULL` and is skipped.
 */
const tombstoneDueMessages = `
  WITH due AS (${dueMessagesSql(param)}),
  done AS (
    UPDATE events e SET tombstone_sha256 = encode(sha256(e.ciphertext), 'hex'),
                        tombstone_bytes = octet_length(e.ciphertext), ciphertext = '\\x'::bytea
    FROM due WHERE e.caucus_id = due.caucus_id AND e.seq = due.seq AND e.tombstone_sha256 IS NULL
    RETURNING e.caucus_id, e.tombstone_bytes),
  credited AS (
    UPDATE caucuses c SET ciphertext_bytes = c.ciphertext_bytes - d.bytes
    FROM (SELECT caucus_id, sum(tombstone_bytes) AS bytes FROM done GROUP BY caucus_id) AS d
    WHERE c.caucus_id = d.caucus_id)
  SELECT count(*) AS tombstoned FROM done`;

/** Storage.sweepRetention on PostgreSQL (rules in ../retention-rules.ts). */
export async function sweepRetention(
  db: Queryable,
  now: number,
  options?: SweepOptions,
): Promise<SweepResult> {
  const { markIntervalMs, batch } = sweepSettings(options);
  const marked = await changed(db, markCaucusesSql(param), [now, markIntervalMs]);
  let tombstoned = 0;
  let left = batch;
  for (const c of await rows<DueCaucusRow>(db, dueCaucusesSql(param), [now, dayMs])) {
    if (left <= 0) break;
    const r = await firstRow<{ through: string; looked: string; tombstoned: string }>(db, tombstoneBatch, [
      c.caucus_id,
      c.deleted_through,
      c.due_through,
      left,
    ]);
    const through = Number(r?.through ?? c.deleted_through);
    left -= Number(r?.looked ?? 0);
    tombstoned += Number(r?.tombstoned ?? 0);
    await changed(db, "DELETE FROM retention_marks WHERE caucus_id = $1 AND head_seq <= $2", [
      c.caucus_id,
      through,
    ]);
    if (c.deleting && through === Number(c.due_through)) {
      await changed(db, "DELETE FROM welcomes WHERE caucus_id = $1", [c.caucus_id]);
      await changed(
        db,
        "UPDATE memberships SET key_package = NULL WHERE caucus_id = $1 AND key_package IS NOT NULL",
        [c.caucus_id],
      );
    }
  }
  // Then the messages whose sender's deletion time passed, with what is left of the batch.
  if (left > 0) {
    const r = await firstRow<{ tombstoned: string }>(db, tombstoneDueMessages, [now, left]);
    tombstoned += Number(r?.tombstoned ?? 0);
  }
  return { marked, tombstoned };
}
