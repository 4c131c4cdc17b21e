import type { Migration } from "../../migration.js";

/**
 * Attachment blobs (issue 12): each encrypted blob in rows of at most 1 MiB (`blob_chunks`), so
 * neither an upload nor a download holds a whole blob in the relay's memory, and a row in `blobs`
 * saying which caucus it belongs to, its size, and the caucus's head when it was uploaded
 * (retention deletes it with the events after it; no time, invariant 1). Version 6: 5 is taken by
 * a change made alongside.
 */
export const blobs: Migration = {
  version: 6,
  name: "blobs",
  sql: `CREATE TABLE blobs (
  blob_id   text PRIMARY KEY,
  caucus_id text NOT NULL REFERENCES caucuses (caucus_id),
  bytes     bigint NOT NULL CHECK (bytes > 0),
  after_seq bigint NOT NULL,
  complete  boolean NOT NULL DEFAULT false
);
CREATE INDEX blobs_by_caucus ON blobs (caucus_id, after_seq);
CREATE TABLE blob_chunks (
  blob_id text NOT NULL REFERENCES blobs (blob_id) ON DELETE CASCADE,
  n       integer NOT NULL,
  data    bytea NOT NULL,
  PRIMARY KEY (blob_id, n)
);`,
};
