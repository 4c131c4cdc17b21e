import type { Migration } from "../../migration.js";

/**
 * A removed device's membership keeps the mediator's signature over its removal, posted with the
 * remove commit: the device believes it was removed only when that signature verifies. Removals
 * made before this migration have none (their devices see "access refused", not "removed").
 */
export const removalProofs: Migration = {
  version: 4,
  name: "removal-proofs",
  sql: `ALTER TABLE memberships ADD COLUMN removal_proof TEXT;`,
};
