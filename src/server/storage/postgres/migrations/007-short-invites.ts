import type { Migration } from "../../migration.js";

/**
 * Short invites (issue 11): an invite code sealed on the mediator's device under a key derived
 * from a short code, kept under the lookup id derived from the same code until one take or its
 * expiry. The relay holds only the sealed box. Version 7: 5 and 6 were taken by changes made
 * alongside.
 */
export const shortInvites: Migration = {
  version: 7,
  name: "short-invites",
  sql: `CREATE TABLE short_invites (
  lookup_id  text PRIMARY KEY,
  box        text NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX short_invites_by_expiry ON short_invites (expires_at);`,
};
