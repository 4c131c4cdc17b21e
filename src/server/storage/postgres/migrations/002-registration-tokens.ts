import type { Migration } from "../../migration.js";

/**
 * SQLite's migration 6: the operator's registration tokens, by the SHA-256 of the token. `used`
 * may never pass `uses` (CHECK), whatever the statement that spends a use; `position` keeps the
 * order they were made in, as SQLite's rowid does.
 */
export const registrationTokens: Migration = {
  version: 2,
  name: "registration-tokens",
  sql: `
CREATE TABLE registration_tokens (
  position   bigint GENERATED ALWAYS AS IDENTITY,
  token_id   text PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  uses       integer NOT NULL CHECK (uses >= 1),
  used       integer NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= uses),
  expires_at bigint,
  note       text,
  created_at bigint NOT NULL,
  revoked    boolean NOT NULL DEFAULT false
);`,
};
