import type { Migration } from "../../migration.js";

/**
 * A Welcome keeps the mediator's signature over where the added device starts its transcript
 * (issue 7, item 3). Welcomes stored before have none, and devices refuse them: such a device is
 * added again. Version 5: 4 is taken by the removal proofs made alongside.
 */
export const welcomeAnchors: Migration = {
  version: 5,
  name: "welcome-anchors",
  sql: `ALTER TABLE welcomes ADD COLUMN anchor_proof TEXT;`,
};
