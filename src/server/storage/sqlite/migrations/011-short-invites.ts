import type { Migration } from "../../migration.js";

/**
 * Short invites (issue 11): an invite code sealed on the mediator's device under a key derived
 * from a short code, kept under the lookup id derived from the same code until one take or its
 * expiry. The relay holds only the sealed box: it can withhold it, not open or forge it.
 * Version 11: 9 and 10 were taken by changes made alongside.
 */
export const shortInvites: Migration = {
  version: 11,
  name: "short-invites",
  sql: `
CREATE TABLE short_invites (
  lookup_id  TEXT PRIMARY KEY,
  box        TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX short_invites_by_expiry ON short_invites (expires_at);
`,
};
