import type { Migration } from "../../migration.js";

/**
 * An application message's relay deletion time, when its sender gave one (protocol/relay-deletion.ts,
 * an exact hour, epoch ms): the retention sweeper tombstones it once it passes. The partial index
 * holds only messages still waiting for theirs, so a sweep finds them in one indexed read and the
 * index empties as they go. Version 5, as SQLite's is 9.
 */
export const deleteAt: Migration = {
  version: 5,
  name: "delete-at",
  sql: `ALTER TABLE events ADD COLUMN delete_at bigint;
CREATE INDEX events_delete_at ON events (delete_at)
  WHERE delete_at IS NOT NULL AND tombstone_sha256 IS NULL;`,
};
