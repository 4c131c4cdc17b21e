import type Database from "better-sqlite3";

const membershipSelect = `
  SELECT m.caucus_id, c.channel_id, m.device_id, m.role, m.joined, m.from_seq, m.removed,
         m.invite_id, m.key_package
  FROM memberships m JOIN caucuses c ON c.caucus_id = m.caucus_id`;

/**
 * What the backend uses of a prepared statement. Spelled out so that the statements' type can be
 * named in the declarations the build emits (better-sqlite3's own type cannot be).
 */
export interface Prepared {
  run(...params: unknown[]): Database.RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

/** Every statement the SQLite backend runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  const prepare = (sql: string): Prepared => db.prepare(sql);
  return {
    insertDevice: prepare("INSERT INTO devices (device_id, role, auth_public_key) VALUES (?, ?, ?)"),
    getDevice: prepare("SELECT device_id, role, auth_public_key, removed FROM devices WHERE device_id = ?"),
    /** A removed device keeps its row (its id stays taken) and loses every session. */
    removeDevice: prepare("UPDATE devices SET removed = 1 WHERE device_id = ?"),
    deleteSessionsOf: prepare("DELETE FROM sessions WHERE device_id = ?"),
    deleteSession: prepare("DELETE FROM sessions WHERE device_id = ? AND token_hash = ?"),
    insertChallenge: prepare("INSERT INTO login_challenges (nonce, device_id, expires_at) VALUES (?, ?, ?)"),
    takeChallenge: prepare(
      "DELETE FROM login_challenges WHERE nonce = ? RETURNING nonce, device_id, expires_at",
    ),
    insertSession: prepare("INSERT INTO sessions (token_hash, device_id, expires_at) VALUES (?, ?, ?)"),
    getSession: prepare("SELECT token_hash, device_id, expires_at FROM sessions WHERE token_hash = ?"),
    getSessionDevice: prepare(
      `SELECT s.token_hash, s.device_id, s.expires_at, d.role, d.auth_public_key, d.removed
       FROM sessions s LEFT JOIN devices d ON d.device_id = s.device_id WHERE s.token_hash = ?`,
    ),
    pruneChallenges: prepare("DELETE FROM login_challenges WHERE expires_at < ?"),
    pruneSessions: prepare("DELETE FROM sessions WHERE expires_at < ?"),
    insertChannel: prepare("INSERT INTO channels (channel_id, retention_days) VALUES (?, ?)"),
    setRetention: prepare("UPDATE channels SET retention_days = ? WHERE channel_id = ?"),
    /** The first close's deletion time stands. */
    closeChannel: prepare("UPDATE channels SET delete_at = coalesce(delete_at, ?) WHERE channel_id = ?"),
    channelSettings: prepare("SELECT retention_days, delete_at FROM channels WHERE channel_id = ?"),
    insertChannelMediator: prepare("INSERT INTO channel_mediators (channel_id, device_id) VALUES (?, ?)"),
    channelMediators: prepare("SELECT device_id FROM channel_mediators WHERE channel_id = ? ORDER BY rowid"),
    channelCaucuses: prepare("SELECT caucus_id FROM caucuses WHERE channel_id = ? ORDER BY rowid"),
    channelsOfMediator: prepare(
      "SELECT channel_id FROM channel_mediators WHERE device_id = ? ORDER BY rowid",
    ),
    insertCaucus: prepare("INSERT INTO caucuses (caucus_id, channel_id, head_hash) VALUES (?, ?, ?)"),
    insertMediatorMemberships: prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq)
       SELECT ?, device_id, 'mediator', 1, 1 FROM channel_mediators WHERE channel_id = ?`,
    ),
    /** The creator joined from seq 1; the channel's other mediator devices pending. */
    insertMediatorMembershipsFor: prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq)
       SELECT :caucus, device_id, 'mediator', device_id = :creator, device_id = :creator
       FROM channel_mediators WHERE channel_id = :channel`,
    ),
    insertPendingMediatorMembership: prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq) VALUES (?, ?, 'mediator', 0, 0)`,
    ),
    putKeyPackage: prepare(
      `UPDATE memberships SET key_package = ?
       WHERE caucus_id = ? AND device_id = ? AND role = 'mediator' AND joined = 0 AND removed = 0`,
    ),
    insertMediatorDevice: prepare("INSERT INTO mediator_devices (device_id, mediator_id) VALUES (?, ?)"),
    mediatorOf: prepare("SELECT mediator_id FROM mediator_devices WHERE device_id = ?"),
    devicesOfMediator: prepare("SELECT device_id FROM mediator_devices WHERE mediator_id = ? ORDER BY rowid"),
    setMediator: prepare("UPDATE mediator_devices SET mediator_id = ? WHERE device_id = ?"),
    /** A removed device becomes a mediator of its own, with no channels. */
    detachMediatorDevice: prepare("UPDATE mediator_devices SET mediator_id = device_id WHERE device_id = ?"),
    leaveChannels: prepare("DELETE FROM channel_mediators WHERE device_id = ?"),
    joinedMemberships: prepare(
      "SELECT COUNT(*) AS n FROM memberships WHERE device_id = ? AND joined = 1 AND removed = 0",
    ),
    dropPendingMemberships: prepare(
      `UPDATE memberships SET removed = 1, key_package = NULL
       WHERE device_id = ? AND joined = 0 AND removed = 0 RETURNING caucus_id`,
    ),
    insertLink: prepare("INSERT INTO mediator_links (link_id, link_public_key, created_by) VALUES (?, ?, ?)"),
    getLink: prepare(
      "SELECT link_id, link_public_key, created_by, used FROM mediator_links WHERE link_id = ?",
    ),
    useLink: prepare("UPDATE mediator_links SET used = 1, redeemed_by = ? WHERE link_id = ?"),
    voidLinks: prepare("UPDATE mediator_links SET used = 1 WHERE created_by = ? AND used = 0"),
    getCaucus: prepare(
      `SELECT c.caucus_id, c.channel_id, c.epoch, c.head_seq, c.head_hash, c.deleted_through, ch.delete_at
       FROM caucuses c JOIN channels ch ON ch.channel_id = c.channel_id WHERE c.caucus_id = ?`,
    ),
    insertInvite: prepare(
      "INSERT INTO invites (invite_id, caucus_id, invite_public_key, expires_at) VALUES (?, ?, ?, ?)",
    ),
    getInvite: prepare(
      `SELECT invite_id, caucus_id, invite_public_key, expires_at, used, revoked
       FROM invites WHERE invite_id = ?`,
    ),
    revokeInvite: prepare("UPDATE invites SET revoked = 1 WHERE invite_id = ?"),
    /** The device that redeemed an invite, while it waits to be admitted. */
    pendingRedeemer: prepare(
      `SELECT device_id FROM memberships
       WHERE invite_id = ? AND role = 'party' AND joined = 0 AND removed = 0`,
    ),
    useInvite: prepare("UPDATE invites SET used = 1 WHERE invite_id = ?"),
    insertPendingMembership: prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq, invite_id, key_package)
       VALUES (?, ?, 'party', 0, 0, ?, ?)`,
    ),
    getMembership: prepare(`${membershipSelect} WHERE m.caucus_id = ? AND m.device_id = ?`),
    membershipsOfDevice: prepare(
      `${membershipSelect} WHERE m.device_id = ? AND m.removed = 0 ORDER BY m.rowid`,
    ),
    membersOfCaucus: prepare(`${membershipSelect} WHERE m.caucus_id = ? ORDER BY m.rowid`),
    readersOfEvent: prepare(
      `SELECT device_id FROM memberships
       WHERE caucus_id = ? AND joined = 1 AND removed = 0 AND from_seq <= ? ORDER BY rowid`,
    ),
    findEvent: prepare("SELECT seq, sender_device_id, hash FROM events WHERE caucus_id = ? AND event_id = ?"),
    insertEvent: prepare(
      `INSERT INTO events (caucus_id, seq, event_id, sender_device_id, kind, epoch, ciphertext, hash,
                           delete_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    advanceHead: prepare(
      `UPDATE caucuses SET head_seq = ?, head_hash = ?, epoch = ?, ciphertext_bytes = ciphertext_bytes + ?
       WHERE caucus_id = ?`,
    ),
    /** Ciphertext stored in a caucus, and in every caucus of its channel (the append's quota). */
    storedBytes: prepare(
      `SELECT c.ciphertext_bytes AS caucus,
              (SELECT sum(x.ciphertext_bytes) FROM caucuses x WHERE x.channel_id = c.channel_id) AS channel
       FROM caucuses c WHERE c.caucus_id = ?`,
    ),
    joinMember: prepare(
      `UPDATE memberships SET joined = 1, from_seq = ?, key_package = NULL
       WHERE caucus_id = ? AND device_id = ?`,
    ),
    insertWelcome: prepare(
      "INSERT INTO welcomes (caucus_id, device_id, welcome, seq, hash, anchor_proof) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    setRemovalProof: prepare(
      "UPDATE memberships SET removal_proof = ? WHERE caucus_id = ? AND device_id = ?",
    ),
    listRemovalProofs: prepare(
      `SELECT caucus_id, removal_proof FROM memberships
       WHERE device_id = ? AND removed = 1 AND removal_proof IS NOT NULL ORDER BY caucus_id`,
    ),
    removeMember: prepare(
      `UPDATE memberships SET removed = 1, key_package = NULL
       WHERE caucus_id = ? AND device_id = ?`,
    ),
    listEvents: prepare(
      `SELECT seq, event_id, sender_device_id, kind, epoch, ciphertext, hash, tombstone_sha256,
              tombstone_bytes, delete_at FROM events
       WHERE caucus_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    getWelcome: prepare(
      "SELECT welcome, seq, hash, anchor_proof FROM welcomes WHERE caucus_id = ? AND device_id = ?",
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
