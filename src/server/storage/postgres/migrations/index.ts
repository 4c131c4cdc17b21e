import type { Migration } from "../../migration.js";
import { initial } from "./001-initial.js";
import { registrationTokens } from "./002-registration-tokens.js";
import { retention } from "./003-retention.js";
import { limits } from "./004-limits.js";
import { deleteAt } from "./005-delete-at.js";
import { blobs } from "./006-blobs.js";
import { shortInvites } from "./007-short-invites.js";

/** Every migration, oldest first. Append new ones; never edit or reorder a shipped one. */
export const migrations: readonly Migration[] = [
  initial,
  registrationTokens,
  retention,
  limits,
  deleteAt,
  blobs,
  shortInvites,
];
