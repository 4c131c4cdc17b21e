import type { Migration } from "../../migration.js";
import { initial } from "./001-initial.js";
import { retention } from "./003-retention.js";

/** Every migration, oldest first. Append new ones; never edit or reorder a shipped one. */
export const migrations: readonly Migration[] = [initial, retention];
