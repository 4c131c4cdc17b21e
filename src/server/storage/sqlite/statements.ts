import type Database from "better-sqlite3";

const membershipSelect = `
  SELECT m.caucus_id, c.channel_id, m.device_id, m.role, m.joined, m.from_seq, m.removed,
         m.invite_id, m.key_package
  FROM memberships m JOIN caucuses c ON c.caucus_id = m.caucus_id`;

/** Every statement the SQLite backend runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    insertDevice: db.prepare("INSERT INTO devices (device_id, role, auth_public_key) VALUES (?, ?, ?)"),
    getDevice: db.prepare("SELECT device_id, role, auth_public_key FROM devices WHERE device_id = ?"),
    insertChallenge: db.prepare(
      "INSERT INTO login_challenges (nonce, device_id, expires_at) VALUES (?, ?, ?)",
    ),
    takeChallenge: db.prepare(
      "DELETE FROM login_challenges WHERE nonce = ? RETURNING nonce, device_id, expires_at",
    ),
    insertSession: db.prepare("INSERT INTO sessions (token_hash, device_id, expires_at) VALUES (?, ?, ?)"),
    getSession: db.prepare("SELECT token_hash, device_id, expires_at FROM sessions WHERE token_hash = ?"),
    pruneChallenges: db.prepare("DELETE FROM login_challenges WHERE expires_at < ?"),
    pruneSessions: db.prepare("DELETE FROM sessions WHERE expires_at < ?"),
    insertChannel: db.prepare("INSERT INTO channels (channel_id) VALUES (?)"),
    insertChannelMediator: db.prepare("INSERT INTO channel_mediators (channel_id, device_id) VALUES (?, ?)"),
    channelExists: db.prepare("SELECT 1 FROM channels WHERE channel_id = ?"),
    channelMediators: db.prepare(
      "SELECT device_id FROM channel_mediators WHERE channel_id = ? ORDER BY rowid",
    ),
    channelCaucuses: db.prepare("SELECT caucus_id FROM caucuses WHERE channel_id = ? ORDER BY rowid"),
    channelsOfMediator: db.prepare(
      "SELECT channel_id FROM channel_mediators WHERE device_id = ? ORDER BY rowid",
    ),
    insertCaucus: db.prepare("INSERT INTO caucuses (caucus_id, channel_id, head_hash) VALUES (?, ?, ?)"),
    insertMediatorMemberships: db.prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq)
       SELECT ?, device_id, 'mediator', 1, 1 FROM channel_mediators WHERE channel_id = ?`,
    ),
    getCaucus: db.prepare(
      "SELECT caucus_id, channel_id, epoch, head_seq, head_hash FROM caucuses WHERE caucus_id = ?",
    ),
    insertInvite: db.prepare(
      "INSERT INTO invites (invite_id, caucus_id, invite_public_key) VALUES (?, ?, ?)",
    ),
    getInvite: db.prepare(
      "SELECT invite_id, caucus_id, invite_public_key, used FROM invites WHERE invite_id = ?",
    ),
    useInvite: db.prepare("UPDATE invites SET used = 1 WHERE invite_id = ?"),
    insertPendingMembership: db.prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq, invite_id, key_package)
       VALUES (?, ?, 'party', 0, 0, ?, ?)`,
    ),
    getMembership: db.prepare(`${membershipSelect} WHERE m.caucus_id = ? AND m.device_id = ?`),
    membershipsOfDevice: db.prepare(
      `${membershipSelect} WHERE m.device_id = ? AND m.removed = 0 ORDER BY m.rowid`,
    ),
    membersOfCaucus: db.prepare(`${membershipSelect} WHERE m.caucus_id = ? ORDER BY m.rowid`),
    findEvent: db.prepare(
      "SELECT seq, sender_device_id, hash FROM events WHERE caucus_id = ? AND event_id = ?",
    ),
    insertEvent: db.prepare(
      `INSERT INTO events (caucus_id, seq, event_id, sender_device_id, kind, epoch, ciphertext, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    advanceHead: db.prepare("UPDATE caucuses SET head_seq = ?, head_hash = ?, epoch = ? WHERE caucus_id = ?"),
    joinMember: db.prepare(
      `UPDATE memberships SET joined = 1, from_seq = ?, key_package = NULL
       WHERE caucus_id = ? AND device_id = ?`,
    ),
    insertWelcome: db.prepare(
      "INSERT INTO welcomes (caucus_id, device_id, welcome, seq, hash) VALUES (?, ?, ?, ?, ?)",
    ),
    removeMember: db.prepare(
      `UPDATE memberships SET removed = 1, key_package = NULL
       WHERE caucus_id = ? AND device_id = ?`,
    ),
    listEvents: db.prepare(
      `SELECT seq, event_id, sender_device_id, kind, epoch, ciphertext, hash FROM events
       WHERE caucus_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    getWelcome: db.prepare("SELECT welcome, seq, hash FROM welcomes WHERE caucus_id = ? AND device_id = ?"),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
