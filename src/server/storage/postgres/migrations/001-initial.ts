import type { Migration } from "../../migration.js";

/**
 * The relay's whole model, as SQLite's migrations 001 to 005 left it. Byte fields (ciphertext,
 * key packages, Welcomes) are bytea holding the decoded bytes, not base64url text: a third
 * smaller, the page budget (EventPage.maxBytes) and the hash chain count the same bytes, and
 * octet_length reads a stored value's size without loading it. Keys, signatures and proofs that
 * the relay only passes on stay text, as they arrive. Seqs, epochs and times are bigint (times
 * are epoch milliseconds, past 2^31). `position` columns keep insertion order ("oldest first"),
 * as SQLite's rowid does; nothing here has a creation time.
 */
export const initial: Migration = {
  version: 1,
  name: "initial",
  sql: `
CREATE TABLE devices (
  device_id       text PRIMARY KEY,
  role            text NOT NULL CHECK (role IN ('mediator', 'party')),
  auth_public_key text NOT NULL,
  removed         boolean NOT NULL DEFAULT false
);

-- No foreign key to devices: unknown device ids get nonces too, so login does not reveal
-- which devices exist.
CREATE TABLE login_challenges (
  nonce      text PRIMARY KEY,
  device_id  text NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);

CREATE TABLE sessions (
  token_hash text PRIMARY KEY,
  device_id  text NOT NULL REFERENCES devices (device_id),
  expires_at bigint NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_device ON sessions (device_id);

CREATE TABLE channels (
  channel_id text PRIMARY KEY
);

CREATE TABLE channel_mediators (
  position   bigint GENERATED ALWAYS AS IDENTITY,
  channel_id text NOT NULL REFERENCES channels (channel_id),
  device_id  text NOT NULL REFERENCES devices (device_id),
  PRIMARY KEY (channel_id, device_id)
);
CREATE INDEX channel_mediators_device ON channel_mediators (device_id);

CREATE TABLE caucuses (
  position   bigint GENERATED ALWAYS AS IDENTITY,
  caucus_id  text PRIMARY KEY,
  channel_id text NOT NULL REFERENCES channels (channel_id),
  epoch      bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),
  head_seq   bigint NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
  head_hash  text NOT NULL
);
CREATE INDEX caucuses_channel ON caucuses (channel_id);

CREATE TABLE invites (
  invite_id         text PRIMARY KEY,
  caucus_id         text NOT NULL REFERENCES caucuses (caucus_id),
  invite_public_key text NOT NULL,
  expires_at        bigint NOT NULL,
  used              boolean NOT NULL DEFAULT false,
  revoked           boolean NOT NULL DEFAULT false
);

CREATE TABLE memberships (
  position      bigint GENERATED ALWAYS AS IDENTITY,
  caucus_id     text NOT NULL REFERENCES caucuses (caucus_id),
  device_id     text NOT NULL REFERENCES devices (device_id),
  role          text NOT NULL CHECK (role IN ('mediator', 'party')),
  joined        boolean NOT NULL,
  from_seq      bigint NOT NULL CHECK (from_seq >= 0),
  removed       boolean NOT NULL DEFAULT false,
  invite_id     text REFERENCES invites (invite_id),
  key_package   bytea,
  removal_proof text,
  PRIMARY KEY (caucus_id, device_id)
);
CREATE INDEX memberships_device ON memberships (device_id);
CREATE INDEX memberships_invite ON memberships (invite_id);

-- The primary key is what keeps seq gap-free and unique if a writer ever skipped the caucus lock.
CREATE TABLE events (
  caucus_id        text NOT NULL REFERENCES caucuses (caucus_id),
  seq              bigint NOT NULL CHECK (seq > 0),
  event_id         text NOT NULL,
  sender_device_id text NOT NULL REFERENCES devices (device_id),
  kind             text NOT NULL CHECK (kind IN ('commit', 'application')),
  epoch            bigint NOT NULL CHECK (epoch >= 0),
  ciphertext       bytea NOT NULL,
  hash             text NOT NULL,
  PRIMARY KEY (caucus_id, seq),
  UNIQUE (caucus_id, event_id)
);
-- MLS ciphertext does not compress: store large ones out of line without trying.
ALTER TABLE events ALTER COLUMN ciphertext SET STORAGE EXTERNAL;

CREATE TABLE welcomes (
  caucus_id    text NOT NULL,
  device_id    text NOT NULL,
  welcome      bytea NOT NULL,
  seq          bigint NOT NULL,
  hash         text NOT NULL,
  anchor_proof text,
  PRIMARY KEY (caucus_id, device_id),
  FOREIGN KEY (caucus_id, device_id) REFERENCES memberships (caucus_id, device_id),
  FOREIGN KEY (caucus_id, seq) REFERENCES events (caucus_id, seq)
);

-- A mediator's devices (its staff): mediator_id is the first device of its mediator.
CREATE TABLE mediator_devices (
  position    bigint GENERATED ALWAYS AS IDENTITY,
  device_id   text PRIMARY KEY REFERENCES devices (device_id),
  mediator_id text NOT NULL
);
CREATE INDEX mediator_devices_mediator ON mediator_devices (mediator_id);

CREATE TABLE mediator_links (
  link_id         text PRIMARY KEY,
  link_public_key text NOT NULL,
  created_by      text NOT NULL REFERENCES devices (device_id),
  -- true once redeemed, or voided because its maker was removed.
  used            boolean NOT NULL DEFAULT false,
  redeemed_by     text REFERENCES devices (device_id)
);
CREATE INDEX mediator_links_created_by ON mediator_links (created_by);
`,
};
