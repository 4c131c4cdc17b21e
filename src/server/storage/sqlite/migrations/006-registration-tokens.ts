import type { Migration } from "../../migration.js";

/**
 * Closed registration (issue 10): the operator's registration tokens, by the SHA-256 of the
 * token, never the token. `used` counts registrations; the CHECK keeps it within `uses`, so
 * even a bug in the spending statement cannot let a token register more devices than it allows.
 * `created_at` is for the operator's list; it dates nothing in any caucus.
 */
export const registrationTokens: Migration = {
  version: 6,
  name: "registration-tokens",
  sql: `
CREATE TABLE registration_tokens (
  token_id   TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  uses       INTEGER NOT NULL CHECK (uses >= 1),
  used       INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= uses),
  expires_at INTEGER,
  note       TEXT,
  created_at INTEGER NOT NULL,
  revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;`,
};
