import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { genesisHash, linkHash, type Role, type StoredEvent } from "../../../protocol/index.js";
import { ServerError, forbidden, notFound } from "../../errors.js";
import type {
  AppendEventInput,
  AppendEventResult,
  CaucusRecord,
  ChallengeRecord,
  ChannelRecord,
  DeviceRecord,
  EventPage,
  InviteRecord,
  MembershipRecord,
  Redemption,
  SessionRecord,
  Storage,
  WelcomeRecord,
} from "../storage.js";
import { migrate } from "./migrate.js";

export const sqliteFileName = "backchannel.sqlite";

export type SqliteStorageOptions = { dataDir: string } | { inMemory: true };

/** Opens (creating if needed) `<dataDir>/backchannel.sqlite` and brings its schema up to date. */
export function openSqliteStorage(options: SqliteStorageOptions): Promise<Storage> {
  try {
    return Promise.resolve(new SqliteStorage(openDatabase(options)));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function openDatabase(options: SqliteStorageOptions): Database.Database {
  let file = ":memory:";
  if ("dataDir" in options) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    file = join(options.dataDir, sqliteFileName);
  }
  const db = new Database(file);
  try {
    db.pragma("journal_mode = WAL");
    // FULL: a commit is on disk before we acknowledge it, so an acknowledged event survives kill -9
    // and power loss (invariant 6). NORMAL would only survive a process crash.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

interface MembershipRow {
  caucus_id: string;
  channel_id: string;
  device_id: string;
  role: Role;
  joined: number;
  from_seq: number;
  removed: number;
  invite_id: string | null;
  key_package: Buffer | null;
}

interface EventRow {
  seq: number;
  event_id: string;
  sender_device_id: string;
  kind: "commit" | "application";
  epoch: number;
  ciphertext: Buffer;
  hash: string;
}

interface CaucusRow {
  caucus_id: string;
  channel_id: string;
  epoch: number;
  head_seq: number;
  head_hash: string;
}

const toMembership = (r: MembershipRow): MembershipRecord => ({
  caucusId: r.caucus_id,
  channelId: r.channel_id,
  deviceId: r.device_id,
  role: r.role,
  joined: r.joined === 1,
  fromSeq: r.from_seq,
  removed: r.removed === 1,
  ...(r.invite_id !== null ? { inviteId: r.invite_id } : {}),
  ...(r.key_package !== null ? { keyPackage: r.key_package.toString("base64url") } : {}),
});

const toEvent = (r: EventRow): StoredEvent => ({
  seq: r.seq,
  eventId: r.event_id,
  senderDeviceId: r.sender_device_id,
  kind: r.kind,
  epoch: r.epoch,
  ciphertext: r.ciphertext.toString("base64url"),
  hash: r.hash,
});

const toCaucus = (r: CaucusRow): CaucusRecord => ({
  caucusId: r.caucus_id,
  channelId: r.channel_id,
  epoch: r.epoch,
  head: { seq: r.head_seq, hash: r.head_hash },
});

const membershipSelect = `
  SELECT m.caucus_id, c.channel_id, m.device_id, m.role, m.joined, m.from_seq, m.removed,
         m.invite_id, m.key_package
  FROM memberships m JOIN caucuses c ON c.caucus_id = m.caucus_id`;

const bytes = (b64url: string): Buffer => Buffer.from(b64url, "base64url");

/**
 * better-sqlite3 is synchronous; each method runs to completion (a transaction included) before
 * any other JavaScript, so one process never interleaves two appends. `.immediate()` takes the
 * write lock at BEGIN, so two processes sharing the file cannot both read the same head either.
 */
class SqliteStorage implements Storage {
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(db: Database.Database) {
    this.db = db;
    this.stmt = {
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
      insertChannelMediator: db.prepare(
        "INSERT INTO channel_mediators (channel_id, device_id) VALUES (?, ?)",
      ),
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
      advanceHead: db.prepare(
        "UPDATE caucuses SET head_seq = ?, head_hash = ?, epoch = ? WHERE caucus_id = ?",
      ),
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

  // ── devices and login ──

  createDevice(device: DeviceRecord): Promise<void> {
    return this.run(() => this.insertDevice(device));
  }

  getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.run(() => this.readDevice(deviceId));
  }

  createChallenge(c: ChallengeRecord): Promise<void> {
    return this.run(() => void this.stmt.insertChallenge.run(c.nonce, c.deviceId, c.expiresAt));
  }

  takeChallenge(nonce: string): Promise<ChallengeRecord | undefined> {
    return this.run(() => {
      const r = this.stmt.takeChallenge.get(nonce) as
        { nonce: string; device_id: string; expires_at: number } | undefined;
      return r && { nonce: r.nonce, deviceId: r.device_id, expiresAt: r.expires_at };
    });
  }

  createSession(s: SessionRecord): Promise<void> {
    return this.run(() => void this.stmt.insertSession.run(s.tokenHash, s.deviceId, s.expiresAt));
  }

  getSession(tokenHash: string): Promise<SessionRecord | undefined> {
    return this.run(() => {
      const r = this.stmt.getSession.get(tokenHash) as
        { token_hash: string; device_id: string; expires_at: number } | undefined;
      return r && { tokenHash: r.token_hash, deviceId: r.device_id, expiresAt: r.expires_at };
    });
  }

  pruneExpired(now: number): Promise<void> {
    return this.run(() => {
      this.stmt.pruneChallenges.run(now);
      this.stmt.pruneSessions.run(now);
    });
  }

  // ── channels, caucuses, invites ──

  createChannel(channel: { channelId: string; mediatorDeviceIds: readonly string[] }): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          this.stmt.insertChannel.run(channel.channelId);
          for (const d of channel.mediatorDeviceIds) {
            this.stmt.insertChannelMediator.run(channel.channelId, d);
          }
        })
        .immediate(),
    );
  }

  getChannel(channelId: string): Promise<ChannelRecord | undefined> {
    return this.run(() => this.readChannel(channelId));
  }

  listChannels(mediatorDeviceId: string): Promise<ChannelRecord[]> {
    return this.run(() =>
      this.db
        .transaction(() =>
          (this.stmt.channelsOfMediator.all(mediatorDeviceId) as { channel_id: string }[]).map((r) =>
            this.readChannel(r.channel_id)!,
          ),
        )
        .deferred(),
    );
  }

  createCaucus(caucus: { caucusId: string; channelId: string }): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          if (!this.stmt.channelExists.get(caucus.channelId)) throw notFound();
          this.stmt.insertCaucus.run(caucus.caucusId, caucus.channelId, genesisHash(caucus.caucusId));
          this.stmt.insertMediatorMemberships.run(caucus.caucusId, caucus.channelId);
        })
        .immediate(),
    );
  }

  getCaucus(caucusId: string): Promise<CaucusRecord | undefined> {
    return this.run(() => this.readCaucus(caucusId));
  }

  createInvite(invite: Omit<InviteRecord, "used">): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const existing = this.readInvite(invite.inviteId);
          if (existing) {
            // A retry of the same creation is fine; anything else is a different invite.
            const same =
              existing.caucusId === invite.caucusId &&
              existing.invitePublicKey === invite.invitePublicKey &&
              !existing.used;
            if (same) return;
            throw new ServerError("invite_invalid", "invite id already in use", 409);
          }
          if (!this.readCaucus(invite.caucusId)) throw notFound();
          this.stmt.insertInvite.run(invite.inviteId, invite.caucusId, invite.invitePublicKey);
        })
        .immediate(),
    );
  }

  getInvite(inviteId: string): Promise<InviteRecord | undefined> {
    return this.run(() => this.readInvite(inviteId));
  }

  redeemInvite(r: Redemption): Promise<MembershipRecord> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const invite = this.readInvite(r.inviteId);
          if (!invite) throw new ServerError("invite_invalid", "unknown invite");
          if (invite.used) throw new ServerError("invite_used", "invite already used");
          this.insertDevice({ deviceId: r.deviceId, role: "party", authPublicKey: r.authPublicKey });
          this.stmt.useInvite.run(r.inviteId);
          this.stmt.insertPendingMembership.run(invite.caucusId, r.deviceId, r.inviteId, bytes(r.keyPackage));
          return this.readMembership(invite.caucusId, r.deviceId)!;
        })
        .immediate(),
    );
  }

  // ── memberships ──

  getMembership(caucusId: string, deviceId: string): Promise<MembershipRecord | undefined> {
    return this.run(() => this.readMembership(caucusId, deviceId));
  }

  listMemberships(deviceId: string): Promise<MembershipRecord[]> {
    return this.run(() => (this.stmt.membershipsOfDevice.all(deviceId) as MembershipRow[]).map(toMembership));
  }

  listMembers(caucusId: string): Promise<MembershipRecord[]> {
    return this.run(() => (this.stmt.membersOfCaucus.all(caucusId) as MembershipRow[]).map(toMembership));
  }

  // ── transcript ──

  appendEvent(input: AppendEventInput): Promise<AppendEventResult> {
    return this.run(() => this.db.transaction(() => this.append(input)).immediate());
  }

  listEvents(caucusId: string, page: EventPage): Promise<StoredEvent[]> {
    return this.run(() => {
      const events: StoredEvent[] = [];
      let taken = 0;
      const rows = this.stmt.listEvents.iterate(caucusId, page.afterSeq, page.limit) as Iterable<EventRow>;
      for (const row of rows) {
        events.push(toEvent(row));
        taken += row.ciphertext.length;
        if (taken >= page.maxBytes) break; // leaving the loop ends (and resets) the statement
      }
      return events;
    });
  }

  getWelcome(caucusId: string, deviceId: string): Promise<WelcomeRecord | undefined> {
    return this.run(() => {
      const r = this.stmt.getWelcome.get(caucusId, deviceId) as
        { welcome: Buffer; seq: number; hash: string } | undefined;
      return r && { caucusId, deviceId, welcome: r.welcome.toString("base64url"), seq: r.seq, hash: r.hash };
    });
  }

  close(): Promise<void> {
    return this.run(() => {
      if (this.db.open) this.db.close();
    });
  }

  // ── internals (synchronous; callers wrap them in transactions) ──

  /** Settles a promise with a synchronous body's result, so a throw becomes a rejection. */
  private run<T>(body: () => T): Promise<T> {
    try {
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private append(input: AppendEventInput): AppendEventResult {
    const caucus = this.readCaucus(input.caucusId);
    const sender = caucus && this.readMembership(input.caucusId, input.senderDeviceId);
    if (!caucus || !sender || !sender.joined || sender.removed) throw notFound();

    // Idempotency comes before the epoch rules: a retried commit must get its original answer,
    // not epoch_conflict against the epoch it itself advanced.
    const existing = this.stmt.findEvent.get(input.caucusId, input.eventId) as
      { seq: number; sender_device_id: string; hash: string } | undefined;
    if (existing) {
      if (existing.sender_device_id !== input.senderDeviceId) {
        throw new ServerError("event_id_conflict", "event id already used in this caucus");
      }
      return { seq: existing.seq, hash: existing.hash, duplicate: true };
    }

    let nextEpoch = caucus.epoch;
    if (input.kind === "application") {
      if (input.welcomes.length > 0 || input.removes.length > 0) {
        throw new ServerError("invalid_request", "welcomes and removes are only allowed on commits");
      }
      if (input.epoch !== caucus.epoch) {
        throw new ServerError(
          "stale_epoch",
          `application message is for epoch ${input.epoch}; the caucus is at epoch ${caucus.epoch}`,
        );
      }
    } else {
      if (sender.role !== "mediator") throw forbidden("only mediator devices may commit");
      if (input.epoch !== caucus.epoch) {
        throw new ServerError(
          "epoch_conflict",
          `commit is for epoch ${input.epoch}; the caucus is at epoch ${caucus.epoch}`,
        );
      }
      nextEpoch = caucus.epoch + 1;
      this.checkRosterChanges(input);
    }

    const seq = caucus.head.seq + 1;
    const hash = linkHash(caucus.head.hash, {
      caucusId: input.caucusId,
      seq,
      eventId: input.eventId,
      senderDeviceId: input.senderDeviceId,
      kind: input.kind,
      epoch: input.epoch,
      ciphertext: input.ciphertext,
    });
    this.stmt.insertEvent.run(
      input.caucusId,
      seq,
      input.eventId,
      input.senderDeviceId,
      input.kind,
      input.epoch,
      bytes(input.ciphertext),
      hash,
    );
    this.stmt.advanceHead.run(seq, hash, nextEpoch, input.caucusId);
    for (const w of input.welcomes) {
      // The commit itself is from the epoch before the device joined: it reads from the next event.
      this.stmt.joinMember.run(seq + 1, input.caucusId, w.deviceId);
      this.stmt.insertWelcome.run(input.caucusId, w.deviceId, bytes(w.welcome), seq, hash);
    }
    for (const d of input.removes) this.stmt.removeMember.run(input.caucusId, d);
    return { seq, hash, duplicate: false };
  }

  /** Validates every welcome and removal before anything is written. */
  private checkRosterChanges(input: AppendEventInput): void {
    const seen = new Set<string>();
    for (const deviceId of [...input.welcomes.map((w) => w.deviceId), ...input.removes]) {
      if (seen.has(deviceId)) {
        throw new ServerError("invalid_request", `device ${deviceId} appears twice in this commit`);
      }
      seen.add(deviceId);
    }
    for (const w of input.welcomes) {
      const m = this.readMembership(input.caucusId, w.deviceId);
      if (!m || m.joined || m.removed) {
        throw new ServerError(
          "invalid_request",
          `welcome for ${w.deviceId}: not a device waiting to join this caucus`,
        );
      }
    }
    for (const deviceId of input.removes) {
      const m = this.readMembership(input.caucusId, deviceId);
      if (!m || m.role !== "party" || m.removed) {
        throw new ServerError(
          "invalid_request",
          `remove ${deviceId}: not a current party member of this caucus`,
        );
      }
    }
  }

  private insertDevice(device: DeviceRecord): void {
    if (this.readDevice(device.deviceId)) {
      throw new ServerError("device_exists", "device id already registered");
    }
    this.stmt.insertDevice.run(device.deviceId, device.role, device.authPublicKey);
  }

  private readDevice(deviceId: string): DeviceRecord | undefined {
    const r = this.stmt.getDevice.get(deviceId) as
      { device_id: string; role: Role; auth_public_key: string } | undefined;
    return r && { deviceId: r.device_id, role: r.role, authPublicKey: r.auth_public_key };
  }

  private readChannel(channelId: string): ChannelRecord | undefined {
    if (!this.stmt.channelExists.get(channelId)) return undefined;
    return {
      channelId,
      mediatorDeviceIds: (this.stmt.channelMediators.all(channelId) as { device_id: string }[]).map(
        (r) => r.device_id,
      ),
      caucusIds: (this.stmt.channelCaucuses.all(channelId) as { caucus_id: string }[]).map(
        (r) => r.caucus_id,
      ),
    };
  }

  private readCaucus(caucusId: string): CaucusRecord | undefined {
    const r = this.stmt.getCaucus.get(caucusId) as CaucusRow | undefined;
    return r && toCaucus(r);
  }

  private readInvite(inviteId: string): InviteRecord | undefined {
    const r = this.stmt.getInvite.get(inviteId) as
      { invite_id: string; caucus_id: string; invite_public_key: string; used: number } | undefined;
    return (
      r && {
        inviteId: r.invite_id,
        caucusId: r.caucus_id,
        invitePublicKey: r.invite_public_key,
        used: r.used === 1,
      }
    );
  }

  private readMembership(caucusId: string, deviceId: string): MembershipRecord | undefined {
    const r = this.stmt.getMembership.get(caucusId, deviceId) as MembershipRow | undefined;
    return r && toMembership(r);
  }
}
