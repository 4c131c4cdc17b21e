import type { Migration } from "../../migration.js";

/**
 * What the relay's limits keep in PostgreSQL (issue 10). Each caucus counts the bytes of
 * ciphertext it stores, kept up to date by every append, so the quota (Storage.appendEvent rule
 * 7) never adds up a transcript. And the rate-limit counters every node shares
 * (limits/limiter-store.ts, rate-limiter-flexible's layout): UNLOGGED, because a counter needs no
 * crash safety and must not cost a WAL flush on every request. Version 4: 2 and 3 are taken by
 * changes made alongside.
 */
export const limits: Migration = {
  version: 4,
  name: "limits",
  sql: `ALTER TABLE caucuses ADD COLUMN ciphertext_bytes bigint NOT NULL DEFAULT 0;
UPDATE caucuses c SET ciphertext_bytes =
  (SELECT coalesce(sum(octet_length(e.ciphertext)), 0) FROM events e WHERE e.caucus_id = c.caucus_id);
CREATE UNLOGGED TABLE rate_limits (
  key    varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);`,
};
