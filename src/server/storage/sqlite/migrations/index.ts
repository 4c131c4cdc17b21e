import { initial } from "./001-initial.js";
import { mediatorDevices } from "./002-mediator-devices.js";
import { access } from "./003-access.js";
import { removalProofs } from "./004-removal-proofs.js";
import type { Migration } from "../../migration.js";
import { welcomeAnchors } from "./005-welcome-anchors.js";
import { registrationTokens } from "./006-registration-tokens.js";
import { retention } from "./007-retention.js";
import { ciphertextBytes } from "./008-ciphertext-bytes.js";
import { deleteAt } from "./009-delete-at.js";
import { blobs } from "./010-blobs.js";
import { shortInvites } from "./011-short-invites.js";

/** Every migration, oldest first. Append new ones; never edit or reorder a shipped one. */
export const migrations: readonly Migration[] = [
  initial,
  mediatorDevices,
  access,
  removalProofs,
  welcomeAnchors,
  registrationTokens,
  retention,
  ciphertextBytes,
  deleteAt,
  blobs,
  shortInvites,
];
