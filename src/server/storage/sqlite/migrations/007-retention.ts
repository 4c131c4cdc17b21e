import type { Migration } from "../../migration.js";

/**
 * Retention (issue 10): a channel may have a retention period and be closed (its deletion time);
 * an event may become a tombstone (ciphertext emptied, its SHA-256 and size kept so the chain
 * still verifies); each retained caucus has marks of where its head stood when. The events table
 * still holds no time (invariant 1): when an event is due is read from the marks, which go with
 * the events they date. Version 7: 6 is taken by another change made alongside.
 */
export const retention: Migration = {
  version: 7,
  name: "retention",
  sql: `
ALTER TABLE channels ADD COLUMN retention_days INTEGER CHECK (retention_days > 0);
ALTER TABLE channels ADD COLUMN delete_at INTEGER;
ALTER TABLE caucuses ADD COLUMN deleted_through INTEGER NOT NULL DEFAULT 0 CHECK (deleted_through >= 0);
ALTER TABLE events ADD COLUMN tombstone_sha256 TEXT;
ALTER TABLE events ADD COLUMN tombstone_bytes INTEGER;

CREATE TABLE retention_marks (
  caucus_id TEXT NOT NULL REFERENCES caucuses (caucus_id),
  marked_at INTEGER NOT NULL,
  head_seq  INTEGER NOT NULL,
  PRIMARY KEY (caucus_id, marked_at)
) STRICT;
`,
};
