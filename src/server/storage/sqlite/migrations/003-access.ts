import type { Migration } from "../../migration.js";

/**
 * Invites expire and can be revoked; removed devices can no longer log in. Invites made before
 * this migration had no expiry: they get 24 hours from the upgrade. Devices already removed (a
 * party device with no membership left) are marked removed and lose their sessions. A mediator
 * device removed before this migration cannot be told apart from a new device of its own
 * mediator, so it is left as it is.
 */
export const access: Migration = {
  version: 3,
  name: "access",
  sql: `
ALTER TABLE invites ADD COLUMN expires_at INTEGER;
ALTER TABLE invites ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1));
UPDATE invites SET expires_at = CAST(unixepoch('subsec') * 1000 AS INTEGER) + 86400000;

ALTER TABLE devices ADD COLUMN removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1));
UPDATE devices SET removed = 1
  WHERE role = 'party'
    AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.device_id = devices.device_id AND m.removed = 0);
DELETE FROM sessions WHERE device_id IN (SELECT device_id FROM devices WHERE removed = 1);
CREATE INDEX sessions_device ON sessions (device_id);
`,
};
