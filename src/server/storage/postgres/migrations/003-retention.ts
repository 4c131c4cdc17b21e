import type { Migration } from "../../migration.js";

/**
 * Retention (issue 10), as SQLite's migration 7: a channel's retention period and deletion time,
 * tombstones (ciphertext emptied, its SHA-256 and size kept), and the marks that date a retained
 * caucus's head without putting a time on any event. Version 3: 2 is taken by another change
 * made alongside.
 */
export const retention: Migration = {
  version: 3,
  name: "retention",
  sql: `
ALTER TABLE channels ADD COLUMN retention_days integer CHECK (retention_days > 0);
ALTER TABLE channels ADD COLUMN delete_at bigint;
ALTER TABLE caucuses ADD COLUMN deleted_through bigint NOT NULL DEFAULT 0 CHECK (deleted_through >= 0);
ALTER TABLE events ADD COLUMN tombstone_sha256 text;
ALTER TABLE events ADD COLUMN tombstone_bytes bigint;

CREATE TABLE retention_marks (
  caucus_id text NOT NULL REFERENCES caucuses (caucus_id),
  marked_at bigint NOT NULL,
  head_seq  bigint NOT NULL,
  PRIMARY KEY (caucus_id, marked_at)
);
`,
};
