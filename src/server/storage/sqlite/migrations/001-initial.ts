import type { Migration } from "../../migration.js";

/**
 * The relay's whole model. Byte fields (ciphertext, key packages, Welcomes) are BLOBs of the
 * decoded bytes. Nothing here has a creation time: only things that expire carry a time.
 */
export const initial: Migration = {
  version: 1,
  name: "initial",
  sql: `
CREATE TABLE devices (
  device_id       TEXT PRIMARY KEY,
  role            TEXT NOT NULL CHECK (role IN ('mediator', 'party')),
  auth_public_key TEXT NOT NULL
) STRICT;

-- No foreign key to devices: unknown device ids get nonces too, so login does not reveal
-- which devices exist.
CREATE TABLE login_challenges (
  nonce      TEXT PRIMARY KEY,
  device_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  device_id  TEXT NOT NULL REFERENCES devices (device_id),
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE channels (
  channel_id TEXT PRIMARY KEY
) STRICT;

CREATE TABLE channel_mediators (
  channel_id TEXT NOT NULL REFERENCES channels (channel_id),
  device_id  TEXT NOT NULL REFERENCES devices (device_id),
  PRIMARY KEY (channel_id, device_id)
) STRICT;
CREATE INDEX channel_mediators_device ON channel_mediators (device_id);

CREATE TABLE caucuses (
  caucus_id  TEXT PRIMARY KEY,
  channel_id TEXT NOT NULL REFERENCES channels (channel_id),
  epoch      INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0),
  head_seq   INTEGER NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
  head_hash  TEXT NOT NULL
) STRICT;
CREATE INDEX caucuses_channel ON caucuses (channel_id);

CREATE TABLE invites (
  invite_id         TEXT PRIMARY KEY,
  caucus_id         TEXT NOT NULL REFERENCES caucuses (caucus_id),
  invite_public_key TEXT NOT NULL,
  used              INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
) STRICT;

CREATE TABLE memberships (
  caucus_id   TEXT NOT NULL REFERENCES caucuses (caucus_id),
  device_id   TEXT NOT NULL REFERENCES devices (device_id),
  role        TEXT NOT NULL CHECK (role IN ('mediator', 'party')),
  joined      INTEGER NOT NULL CHECK (joined IN (0, 1)),
  from_seq    INTEGER NOT NULL CHECK (from_seq >= 0),
  removed     INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
  invite_id   TEXT REFERENCES invites (invite_id),
  key_package BLOB,
  PRIMARY KEY (caucus_id, device_id)
) STRICT;
CREATE INDEX memberships_device ON memberships (device_id);

CREATE TABLE events (
  caucus_id        TEXT NOT NULL REFERENCES caucuses (caucus_id),
  seq              INTEGER NOT NULL CHECK (seq > 0),
  event_id         TEXT NOT NULL,
  sender_device_id TEXT NOT NULL REFERENCES devices (device_id),
  kind             TEXT NOT NULL CHECK (kind IN ('commit', 'application')),
  epoch            INTEGER NOT NULL CHECK (epoch >= 0),
  ciphertext       BLOB NOT NULL,
  hash             TEXT NOT NULL,
  PRIMARY KEY (caucus_id, seq),
  UNIQUE (caucus_id, event_id)
) STRICT;

CREATE TABLE welcomes (
  caucus_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  welcome   BLOB NOT NULL,
  seq       INTEGER NOT NULL,
  hash      TEXT NOT NULL,
  PRIMARY KEY (caucus_id, device_id),
  FOREIGN KEY (caucus_id, device_id) REFERENCES memberships (caucus_id, device_id),
  FOREIGN KEY (caucus_id, seq) REFERENCES events (caucus_id, seq)
) STRICT;
`,
};
