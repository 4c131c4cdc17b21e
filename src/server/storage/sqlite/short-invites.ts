import type Database from "better-sqlite3";
import type { ShortInviteRecord } from "../storage.js";
import { shortInviteTaken } from "../short-invite-rules.js";
import type { Prepared } from "./statements.js";

/** The short-invite statements, prepared once per connection beside statements.ts's. */
export function prepareShortInvites(db: Database.Database) {
  const prepare = (sql: string): Prepared => db.prepare(sql);
  const insert = prepare(
    `INSERT INTO short_invites (lookup_id, box, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  /** One statement deletes and reads: a second taker, in any process, finds no row. */
  const take = prepare("DELETE FROM short_invites WHERE lookup_id = ? RETURNING box, expires_at");
  const prune = prepare("DELETE FROM short_invites WHERE expires_at <= ?");
  return {
    put(s: ShortInviteRecord): void {
      if (insert.run(s.lookupId, s.box, s.expiresAt).changes !== 1) throw shortInviteTaken();
    },
    take(lookupId: string, now: number): string | undefined {
      const row = take.get(lookupId) as { box: string; expires_at: number } | undefined;
      return row !== undefined && row.expires_at > now ? row.box : undefined;
    },
    prune(now: number): void {
      prune.run(now);
    },
  };
}
