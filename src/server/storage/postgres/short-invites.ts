import { shortInviteTaken } from "../short-invite-rules.js";
import type { ShortInviteRecord } from "../storage.js";
import { changed, firstRow, type Queryable } from "./transaction.js";

export async function putShortInvite(db: Queryable, s: ShortInviteRecord): Promise<void> {
  const inserted = await changed(
    db,
    `INSERT INTO short_invites (lookup_id, box, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [s.lookupId, s.box, s.expiresAt],
  );
  if (inserted !== 1) throw shortInviteTaken();
}

/**
 * One DELETE … RETURNING: a concurrent one for the same row, from any node, waits for this one's
 * row lock, then finds the row gone and returns nothing, so exactly one taker gets the box.
 */
export async function takeShortInvite(
  db: Queryable,
  lookupId: string,
  now: number,
): Promise<string | undefined> {
  const row = await firstRow<{ box: string; expires_at: string }>(
    db,
    "DELETE FROM short_invites WHERE lookup_id = $1 RETURNING box, expires_at",
    [lookupId],
  );
  return row !== undefined && Number(row.expires_at) > now ? row.box : undefined;
}
