import type { Migration } from "../../migration.js";

/**
 * Each caucus keeps the bytes of ciphertext it stores, kept up to date by every append, so the
 * relay's quota (Storage.appendEvent rule 7) never has to add up a transcript. Version 8: 6 and 7
 * are taken by changes made alongside (issue 10).
 */
export const ciphertextBytes: Migration = {
  version: 8,
  name: "ciphertext-bytes",
  sql: `ALTER TABLE caucuses ADD COLUMN ciphertext_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE caucuses SET ciphertext_bytes =
  (SELECT coalesce(sum(length(e.ciphertext)), 0) FROM events e WHERE e.caucus_id = caucuses.caucus_id);`,
};
