import type { Migration } from "../../migration.js";

/**
 * Attachment blobs (issue 12): the relay keeps each encrypted blob as a file under the data dir
 * (`blobs/<blobId>`) and here only which caucus it belongs to, its size, and the caucus's head when
 * it was uploaded (retention deletes it with the events after it; no time, invariant 1). A row is
 * `complete` once every byte is on disk. Version 10: 9 is taken by a change made alongside.
 */
export const blobs: Migration = {
  version: 10,
  name: "blobs",
  sql: `
CREATE TABLE blobs (
  blob_id   TEXT PRIMARY KEY,
  caucus_id TEXT NOT NULL REFERENCES caucuses (caucus_id),
  bytes     INTEGER NOT NULL CHECK (bytes > 0),
  after_seq INTEGER NOT NULL,
  complete  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX blobs_by_caucus ON blobs (caucus_id, after_seq);
`,
};
