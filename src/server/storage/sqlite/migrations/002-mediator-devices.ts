import type { Migration } from "../../migration.js";

/**
 * A mediator may have several devices (its staff). `mediator_devices` groups them: every mediator
 * device has a row, and `mediator_id` is the first device of its mediator (a device registered on
 * its own is its own mediator). A one-time `mediator_links` row lets a new device join; the
 * server keeps only the link's public key, so it cannot redeem a link itself.
 */
export const mediatorDevices: Migration = {
  version: 2,
  name: "mediator-devices",
  sql: `
CREATE TABLE mediator_devices (
  device_id   TEXT PRIMARY KEY REFERENCES devices (device_id),
  mediator_id TEXT NOT NULL
) STRICT;
CREATE INDEX mediator_devices_mediator ON mediator_devices (mediator_id);
INSERT INTO mediator_devices (device_id, mediator_id)
  SELECT device_id, device_id FROM devices WHERE role = 'mediator';

CREATE TABLE mediator_links (
  link_id         TEXT PRIMARY KEY,
  link_public_key TEXT NOT NULL,
  created_by      TEXT NOT NULL REFERENCES devices (device_id),
  -- 1 once redeemed, or voided because its maker was removed.
  used            INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
  redeemed_by     TEXT REFERENCES devices (device_id)
) STRICT;
CREATE INDEX mediator_links_created_by ON mediator_links (created_by);
`,
};
