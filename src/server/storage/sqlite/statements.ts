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
    /** The creator joined from seq 1; the channel's other mediator devices pending. */
    insertMediatorMembershipsFor: db.prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq)
       SELECT :caucus, device_id, 'mediator', device_id = :creator, device_id = :creator
       FROM channel_mediators WHERE channel_id = :channel`,
    ),
    insertPendingMediatorMembership: db.prepare(
      `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq) VALUES (?, ?, 'mediator', 0, 0)`,
    ),
    putKeyPackage: db.prepare(
      `UPDATE memberships SET key_package = ?
       WHERE caucus_id = ? AND device_id = ? AND role = 'mediator' AND joined = 0 AND removed = 0`,
    ),
    insertMediatorDevice: db.prepare("INSERT INTO mediator_devices (device_id, mediator_id) VALUES (?, ?)"),
    mediatorOf: db.prepare("SELECT mediator_id FROM mediator_devices WHERE device_id = ?"),
    devicesOfMediator: db.prepare(
      "SELECT device_id FROM mediator_devices WHERE mediator_id = ? ORDER BY rowid",
    ),
    setMediator: db.prepare("UPDATE mediator_devices SET mediator_id = ? WHERE device_id = ?"),
    /** A removed device becomes a mediator of its own, with no channels. */
    detachMediatorDevice: db.prepare(
      "UPDATE mediator_devices SET mediator_id = device_id WHERE device_id = ?",
    ),
    leaveChannels: db.prepare("DELETE FROM channel_mediators WHERE device_id = ?"),
    joinedMemberships: db.prepare(
      "SELECT COUNT(*) AS n FROM memberships WHERE device_id = ? AND joined = 1 AND removed = 0",
    ),
    dropPendingMemberships: db.prepare(
      `UPDATE memberships SET removed = 1, key_package = NULL
       WHERE device_id = ? AND joined = 0 AND removed = 0 RETURNING caucus_id`,
    ),
    insertLink: db.prepare(
      "INSERT INTO mediator_links (link_id, link_public_key, created_by) VALUES (?, ?, ?)",
    ),
    getLink: db.prepare(
      "SELECT link_id, link_public_key, created_by, used FROM mediator_links WHERE link_id = ?",
    ),
    useLink: db.prepare("UPDATE mediator_links SET used = 1, redeemed_by = ? WHERE link_id = ?"),
    voidLinks: db.prepare("UPDATE mediator_links SET used = 1 WHERE created_by = ? AND used = 0"),
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
