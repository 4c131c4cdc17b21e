import type { Pool, PoolClient } from "pg";
import { genesisHash, type BlobDownload, type StoredEvent } from "../../../protocol/index.js";
import { channelClosed, notFound } from "../../errors.js";
import {
  checkInviteRetry,
  checkLinkRedeemable,
  checkLinkRetry,
  checkNoLongerMember,
  checkRedeemable,
  checkRevoker,
  checkStaffRemoval,
  deviceExists,
  unknownLink,
} from "../access-rules.js";
import type {
  AppendEventInput,
  AppendEventResult,
  CaucusRecord,
  ChallengeRecord,
  ChannelRecord,
  DeviceRecord,
  EventPage,
  InviteRecord,
  LinkRedemption,
  MediatorLinkRecord,
  MembershipRecord,
  PutBlobInput,
  Redemption,
  RegistrationTokenInfo,
  RegistrationTokenRecord,
  ShortInviteRecord,
  SessionRecord,
  Storage,
  StoredDevice,
  SweepOptions,
  SweepResult,
  TokenRegistration,
  WelcomeRecord,
} from "../storage.js";
import { sweepRetention } from "./retention.js";
import { putShortInvite, takeShortInvite } from "./short-invites.js";
import { openBlob, putBlob, sweepBlobs } from "./blobs.js";
import { appendWrites } from "./append-event.js";
import { createPool, firstConnection, type PostgresStorageOptions } from "./connection.js";
import type { CommitObserver } from "../commit-observer.js";
import { GroupCommit } from "./group-commit.js";
import { migrate } from "./migrate.js";
import {
  bytes,
  toEvent,
  toSession,
  toSessionDevice,
  toWelcome,
  type EventRow,
  type SessionDeviceRow,
  type SessionRow,
  type WelcomeRow,
} from "../rows.js";
import {
  readCaucus,
  readChannel,
  readChannelsOf,
  readDevice,
  readInvite,
  readLink,
  readMediatorDevices,
  readMembers,
  readMembership,
  readMembershipsOf,
  removeDevices,
} from "./reads.js";
import { insertToken, listTokens, revokeToken, spendToken } from "./registration-tokens.js";
import { advisoryLock, changed, firstRow, lockCaucuses, rows, takeLock, transaction } from "./transaction.js";

export { isPostgresUrl, redactedUrl, type PostgresStorageOptions } from "./connection.js";

/**
 * Connects (saying where, without the password, if it cannot), checks that commits are durable,
 * and brings the schema up to date under the migrations lock.
 */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const pool = createPool(options);
  try {
    const db = await firstConnection(pool, options.databaseUrl);
    try {
      await requireDurableCommits(db);
      await migrate(db, options.schema);
    } finally {
      db.release();
    }
    return new PostgresStorage(pool, options.onCommit);
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/**
 * The relay answers an append only once it is durable (invariant 6). PostgreSQL's default
 * (synchronous_commit = on) is; `off` acknowledges commits a crash can still lose, so the relay
 * refuses to run on it rather than weaken the promise.
 */
async function requireDurableCommits(db: PoolClient): Promise<void> {
  const r = await firstRow<{ synchronous_commit: string }>(db, "SHOW synchronous_commit");
  if (r?.synchronous_commit === "off")
    throw new Error(
      "PostgreSQL has synchronous_commit = off for this connection: a crash could lose events the relay " +
        "has acknowledged. Use the default (on), e.g. ALTER DATABASE … RESET synchronous_commit",
    );
}

/**
 * Every method is one statement or one transaction. Transactions run at READ COMMITTED and take
 * locks before they read what they then write, so relay nodes sharing the database behave as if
 * one ran after the other, as SQLite's single writer does:
 * - appends lock their caucus rows (GroupCommit's `begin`), which serialises each caucus's
 *   transcript and roster on every node; revoking an invite and removing a mediator device lock
 *   the caucuses they change too;
 * - redeeming or revoking an invite locks the invite row;
 * - what changes a mediator's devices, channels or caucuses takes the staff lock (transaction.ts).
 */
class PostgresStorage implements Storage {
  private readonly appends: GroupCommit<AppendEventInput, AppendEventResult>;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    onCommit?: CommitObserver,
  ) {
    this.appends = new GroupCommit(pool, appendWrites, undefined, onCommit);
  }

  // ── devices and login ──

  createDevice(device: DeviceRecord): Promise<void> {
    return transaction(this.pool, (db) => insertDevice(db, device));
  }

  getDevice(deviceId: string): Promise<StoredDevice | undefined> {
    return readDevice(this.pool, deviceId);
  }

  async createChallenge(c: ChallengeRecord): Promise<void> {
    await this.pool.query("INSERT INTO login_challenges (nonce, device_id, expires_at) VALUES ($1, $2, $3)", [
      c.nonce,
      c.deviceId,
      c.expiresAt,
    ]);
  }

  async takeChallenge(nonce: string): Promise<ChallengeRecord | undefined> {
    const r = await firstRow<{ nonce: string; device_id: string; expires_at: number }>(
      this.pool,
      "DELETE FROM login_challenges WHERE nonce = $1 RETURNING nonce, device_id, expires_at",
      [nonce],
    );
    return r && { nonce: r.nonce, deviceId: r.device_id, expiresAt: r.expires_at };
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.pool.query("INSERT INTO sessions (token_hash, device_id, expires_at) VALUES ($1, $2, $3)", [
      s.tokenHash,
      s.deviceId,
      s.expiresAt,
    ]);
  }

  async getSession(tokenHash: string): Promise<SessionRecord | undefined> {
    const r = await firstRow<SessionRow>(
      this.pool,
      "SELECT token_hash, device_id, expires_at FROM sessions WHERE token_hash = $1",
      [tokenHash],
    );
    return r && toSession(r);
  }

  async getSessionDevice(
    tokenHash: string,
  ): Promise<{ session: SessionRecord; device?: StoredDevice } | undefined> {
    // Every authenticated request runs it: named, so each connection parses and plans it once
    // (measured: about 100 µs less per request, a third of it the relay's own CPU).
    const { rows: found } = await this.pool.query<SessionDeviceRow>({
      name: "session-device",
      text: `SELECT s.token_hash, s.device_id, s.expires_at, d.role, d.auth_public_key, d.removed
             FROM sessions s LEFT JOIN devices d ON d.device_id = s.device_id WHERE s.token_hash = $1`,
      values: [tokenHash],
    });
    return found[0] && toSessionDevice(found[0]);
  }

  deleteSessions(deviceId: string, tokenHash?: string): Promise<number> {
    return tokenHash === undefined
      ? changed(this.pool, "DELETE FROM sessions WHERE device_id = $1", [deviceId])
      : changed(this.pool, "DELETE FROM sessions WHERE device_id = $1 AND token_hash = $2", [
          deviceId,
          tokenHash,
        ]);
  }

  async listRemovalProofs(deviceId: string): Promise<{ caucusId: string; signature: string }[]> {
    // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
    return (
      await rows<{ caucus_id: string; removal_proof: string }>(
        this.pool,
        `SELECT caucus_id, removal_proof FROM memberships
         WHERE device_id = $1 AND removed AND removal_proof IS NOT NULL ORDER BY caucus_id COLLATE "C"`,
        [deviceId],
      )
    ).map((r) => ({ caucusId: r.caucus_id, signature: r.removal_proof }));
  }

  async pruneExpired(now: number): Promise<void> {
    await this.pool.query(
      `WITH challenges AS (DELETE FROM login_challenges WHERE expires_at < $1),
            short_invites AS (DELETE FROM short_invites WHERE expires_at <= $1)
       DELETE FROM sessions WHERE expires_at < $1`,
      [now],
    );
  }

  // ── registration tokens ──

  createRegistrationToken(token: RegistrationTokenRecord): Promise<void> {
    return insertToken(this.pool, token);
  }

  listRegistrationTokens(): Promise<RegistrationTokenInfo[]> {
    return listTokens(this.pool);
  }

  revokeRegistrationToken(tokenId: string): Promise<boolean> {
    return revokeToken(this.pool, tokenId);
  }

  registerWithToken(r: TokenRegistration): Promise<void> {
    return transaction(this.pool, async (db) => {
      // The use first: only a token holder learns whether a device id is taken.
      await spendToken(db, r.tokenHash, r.now);
      await insertDevice(db, r.device);
    });
  }

  // ── short invites ──

  putShortInvite(shortInvite: ShortInviteRecord): Promise<void> {
    return putShortInvite(this.pool, shortInvite);
  }

  takeShortInvite(lookupId: string, now: number): Promise<string | undefined> {
    return takeShortInvite(this.pool, lookupId, now);
  }

  // ── channels, caucuses, invites ──

  createChannel(channel: {
    channelId: string;
    mediatorDeviceIds: readonly string[];
    retentionDays?: number;
  }): Promise<void> {
    return transaction(this.pool, async (db) => {
      await db.query("INSERT INTO channels (channel_id, retention_days) VALUES ($1, $2)", [
        channel.channelId,
        channel.retentionDays ?? null,
      ]);
      await db.query(
        `INSERT INTO channel_mediators (channel_id, device_id)
         SELECT $1, device_id FROM unnest($2::text[]) WITH ORDINALITY AS m (device_id, i) ORDER BY i`,
        [channel.channelId, channel.mediatorDeviceIds],
      );
    });
  }

  async setChannelRetention(channelId: string, retentionDays: number | null): Promise<void> {
    const n = await changed(this.pool, "UPDATE channels SET retention_days = $1 WHERE channel_id = $2", [
      retentionDays,
      channelId,
    ]);
    if (n === 0) throw notFound();
  }

  closeChannel(channelId: string, deleteAt: number): Promise<void> {
    return transaction(this.pool, async (db) => {
      // Under its caucuses' locks: an append on any node either committed before the close or
      // reads it and is refused.
      const channel = await readChannel(db, channelId);
      if (!channel) throw notFound();
      await lockCaucuses(db, channel.caucusIds);
      await db.query("UPDATE channels SET delete_at = coalesce(delete_at, $1) WHERE channel_id = $2", [
        deleteAt,
        channelId,
      ]);
    });
  }

  async sweepRetention(now: number, options?: SweepOptions): Promise<SweepResult> {
    const result = await sweepRetention(this.pool, now, options);
    // Blobs go with the events appended after them (their deleted_through just moved).
    await sweepBlobs(this.pool);
    return result;
  }

  getChannel(channelId: string): Promise<ChannelRecord | undefined> {
    return readChannel(this.pool, channelId);
  }

  listChannels(mediatorDeviceId: string): Promise<ChannelRecord[]> {
    return readChannelsOf(this.pool, mediatorDeviceId);
  }

  createCaucus(caucus: { caucusId: string; channelId: string; creatorDeviceId?: string }): Promise<void> {
    return transaction(this.pool, async (db) => {
      // A device linked meanwhile must either be among the mediators read here or see this caucus.
      await takeLock(db, advisoryLock.staff);
      const channel = await readChannel(db, caucus.channelId);
      if (!channel) throw notFound();
      if (channel.deleteAt !== undefined) throw channelClosed();
      const creator = caucus.creatorDeviceId ?? null;
      if (creator !== null && !channel.mediatorDeviceIds.includes(creator)) throw notFound();
      await db.query("INSERT INTO caucuses (caucus_id, channel_id, head_hash) VALUES ($1, $2, $3)", [
        caucus.caucusId,
        caucus.channelId,
        genesisHash(caucus.caucusId),
      ]);
      // The creator joined from seq 1 and the others pending; with no creator, all joined. In
      // device id order, as SQLite inserts them (its primary-key index on the channel's mediators).
      await db.query(
        `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq)
         SELECT $1, device_id, 'mediator', j, CASE WHEN j THEN 1 ELSE 0 END
         FROM channel_mediators, LATERAL (SELECT $2::text IS NULL OR device_id = $2) AS x (j)
         WHERE channel_id = $3 ORDER BY device_id COLLATE "C"`,
        [caucus.caucusId, creator, caucus.channelId],
      );
    });
  }

  getCaucus(caucusId: string): Promise<CaucusRecord | undefined> {
    return readCaucus(this.pool, caucusId);
  }

  createInvite(invite: Omit<InviteRecord, "used" | "revoked">): Promise<void> {
    return transaction(this.pool, async (db) => {
      const existing = await readInvite(db, invite.inviteId);
      if (existing) return checkInviteRetry(existing, invite);
      if (!(await readCaucus(db, invite.caucusId))) throw notFound();
      const made = await changed(
        db,
        `INSERT INTO invites (invite_id, caucus_id, invite_public_key, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (invite_id) DO NOTHING`,
        [invite.inviteId, invite.caucusId, invite.invitePublicKey, invite.expiresAt],
      );
      // Another node made it between the read and the insert: judge it as a retry.
      if (made === 0) checkInviteRetry((await readInvite(db, invite.inviteId))!, invite);
    });
  }

  getInvite(inviteId: string): Promise<InviteRecord | undefined> {
    return readInvite(this.pool, inviteId);
  }

  redeemInvite(r: Redemption): Promise<MembershipRecord> {
    return transaction(this.pool, async (db) => {
      // The invite's row lock makes two redemptions (or a redemption and a revocation) take turns.
      const invite = await readInvite(db, r.inviteId, { lock: true });
      checkRedeemable(invite, r.now);
      await insertDevice(db, { deviceId: r.deviceId, role: "party", authPublicKey: r.authPublicKey });
      await db.query("UPDATE invites SET used = true WHERE invite_id = $1", [r.inviteId]);
      await db.query(
        `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq, invite_id, key_package)
         VALUES ($1, $2, 'party', false, 0, $3, $4)`,
        [invite.caucusId, r.deviceId, r.inviteId, bytes(r.keyPackage)],
      );
      return (await readMembership(db, invite.caucusId, r.deviceId))!;
    });
  }

  revokeInvite(revocation: {
    inviteId: string;
    byDeviceId: string;
  }): Promise<{ caucusId: string; droppedDeviceId?: string }> {
    return transaction(this.pool, async (db) => {
      const invite = await readInvite(db, revocation.inviteId, { lock: true });
      if (!invite) throw notFound();
      // The caucus lock: a commit admitting the device cannot land between the read and the drop.
      await lockCaucuses(db, [invite.caucusId]);
      checkRevoker(await readMembership(db, invite.caucusId, revocation.byDeviceId));
      await db.query("UPDATE invites SET revoked = true WHERE invite_id = $1", [invite.inviteId]);
      const pending = await firstRow<{ device_id: string }>(
        db,
        `SELECT device_id FROM memberships
         WHERE invite_id = $1 AND role = 'party' AND NOT joined AND NOT removed`,
        [invite.inviteId],
      );
      if (!pending) return { caucusId: invite.caucusId };
      await db.query(
        "UPDATE memberships SET removed = true, key_package = NULL WHERE caucus_id = $1 AND device_id = $2",
        [invite.caucusId, pending.device_id],
      );
      await removeDevices(db, [pending.device_id]);
      return { caucusId: invite.caucusId, droppedDeviceId: pending.device_id };
    });
  }

  // ── the mediator's devices (staff) ──

  listMediatorDevices(deviceId: string): Promise<string[]> {
    return readMediatorDevices(this.pool, deviceId);
  }

  createMediatorLink(link: Omit<MediatorLinkRecord, "used">): Promise<void> {
    return transaction(this.pool, async (db) => {
      await takeLock(db, advisoryLock.staff);
      const existing = await readLink(db, link.linkId);
      if (existing) return checkLinkRetry(existing, link);
      if ((await readMediatorDevices(db, link.createdBy)).length === 0) throw notFound();
      await db.query(
        "INSERT INTO mediator_links (link_id, link_public_key, created_by) VALUES ($1, $2, $3)",
        [link.linkId, link.linkPublicKey, link.createdBy],
      );
    });
  }

  getMediatorLink(linkId: string): Promise<MediatorLinkRecord | undefined> {
    return readLink(this.pool, linkId);
  }

  redeemMediatorLink(r: LinkRedemption): Promise<{ caucusIds: string[] }> {
    return transaction(this.pool, async (db) => {
      await takeLock(db, advisoryLock.staff);
      const link = await readLink(db, r.linkId);
      checkLinkRedeemable(link);
      const mediator = await firstRow<{ mediator_id: string }>(
        db,
        "SELECT mediator_id FROM mediator_devices WHERE device_id = $1",
        [link.createdBy],
      );
      if (!mediator) throw unknownLink();
      await insertDevice(db, { deviceId: r.deviceId, role: "mediator", authPublicKey: r.authPublicKey });
      await db.query("UPDATE mediator_devices SET mediator_id = $1 WHERE device_id = $2", [
        mediator.mediator_id,
        r.deviceId,
      ]);
      await db.query("UPDATE mediator_links SET used = true, redeemed_by = $1 WHERE link_id = $2", [
        r.deviceId,
        r.linkId,
      ]);
      const caucusIds: string[] = [];
      for (const channel of await readChannelsOf(db, link.createdBy)) {
        await db.query("INSERT INTO channel_mediators (channel_id, device_id) VALUES ($1, $2)", [
          channel.channelId,
          r.deviceId,
        ]);
        for (const caucusId of channel.caucusIds) {
          await db.query(
            `INSERT INTO memberships (caucus_id, device_id, role, joined, from_seq)
             VALUES ($1, $2, 'mediator', false, 0)`,
            [caucusId, r.deviceId],
          );
          caucusIds.push(caucusId);
        }
      }
      return { caucusIds };
    });
  }

  async putMediatorKeyPackage(caucusId: string, deviceId: string, keyPackage: string): Promise<void> {
    // One statement: a commit welcoming the device meanwhile makes it match nothing (not_found).
    const stored = await changed(
      this.pool,
      `UPDATE memberships SET key_package = $1
       WHERE caucus_id = $2 AND device_id = $3 AND role = 'mediator' AND NOT joined AND NOT removed`,
      [bytes(keyPackage), caucusId, deviceId],
    );
    if (stored !== 1) throw notFound();
  }

  removeMediatorDevice(removal: {
    byDeviceId: string;
    deviceId: string;
  }): Promise<{ droppedCaucusIds: string[] }> {
    return transaction(this.pool, async (db) => {
      const { byDeviceId, deviceId } = removal;
      await takeLock(db, advisoryLock.staff);
      checkStaffRemoval(byDeviceId, deviceId, await readMediatorDevices(db, byDeviceId));
      // Its caucuses' locks: no commit may welcome it between the count and the drop below.
      const caucuses = await rows<{ caucus_id: string }>(
        db,
        "SELECT caucus_id FROM memberships WHERE device_id = $1 AND NOT removed",
        [deviceId],
      );
      await lockCaucuses(
        db,
        caucuses.map((c) => c.caucus_id),
      );
      const joined = await firstRow<{ n: number }>(
        db,
        "SELECT count(*) AS n FROM memberships WHERE device_id = $1 AND joined AND NOT removed",
        [deviceId],
      );
      checkNoLongerMember(joined!.n);
      // A removed device becomes a mediator of its own, with no channels; links it made are void.
      await db.query("UPDATE mediator_devices SET mediator_id = device_id WHERE device_id = $1", [deviceId]);
      await db.query("DELETE FROM channel_mediators WHERE device_id = $1", [deviceId]);
      await db.query("UPDATE mediator_links SET used = true WHERE created_by = $1 AND NOT used", [deviceId]);
      const dropped = await rows<{ caucus_id: string }>(
        db,
        `WITH dropped AS (
           UPDATE memberships SET removed = true, key_package = NULL
           WHERE device_id = $1 AND NOT joined AND NOT removed RETURNING caucus_id, position)
         SELECT caucus_id FROM dropped ORDER BY position`,
        [deviceId],
      );
      await removeDevices(db, [deviceId]);
      return { droppedCaucusIds: dropped.map((d) => d.caucus_id) };
    });
  }

  // ── memberships ──

  getMembership(caucusId: string, deviceId: string): Promise<MembershipRecord | undefined> {
    return readMembership(this.pool, caucusId, deviceId);
  }

  listMemberships(deviceId: string): Promise<MembershipRecord[]> {
    return readMembershipsOf(this.pool, deviceId);
  }

  listMembers(caucusId: string): Promise<MembershipRecord[]> {
    return readMembers(this.pool, caucusId);
  }

  // ── transcript ──

  appendEvent(input: AppendEventInput): Promise<AppendEventResult> {
    if (this.closing) return Promise.reject(new Error("the storage is closed"));
    return this.appends.submit(input);
  }

  async listEvents(caucusId: string, page: EventPage): Promise<StoredEvent[]> {
    // The byte budget in SQL, so the events past it never leave the database: an event is on the
    // page if the ones before it on the page took less than maxBytes (the first always is).
    return (
      await rows<EventRow>(
        this.pool,
        `SELECT seq, event_id, sender_device_id, kind, epoch, ciphertext, hash, tombstone_sha256,
                tombstone_bytes, delete_at FROM (
           SELECT seq, event_id, sender_device_id, kind, epoch, ciphertext, hash, tombstone_sha256,
                  tombstone_bytes, delete_at,
                  row_number() OVER w AS n,
                  sum(octet_length(ciphertext)) OVER w - octet_length(ciphertext) AS before
           FROM (SELECT * FROM events WHERE caucus_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS e
           WINDOW w AS (ORDER BY seq)) AS page
         WHERE n = 1 OR before < $4
         ORDER BY seq`,
        [caucusId, page.afterSeq, page.limit, page.maxBytes],
      )
    ).map(toEvent);
  }

  async getWelcome(caucusId: string, deviceId: string): Promise<WelcomeRecord | undefined> {
    const r = await firstRow<WelcomeRow>(
      this.pool,
      "SELECT welcome, seq, hash, anchor_proof FROM welcomes WHERE caucus_id = $1 AND device_id = $2",
      [caucusId, deviceId],
    );
    return r && toWelcome(caucusId, deviceId, r);
  }

  // ── attachment blobs ──

  putBlob(input: PutBlobInput): Promise<void> {
    return putBlob(this.pool, input);
  }

  openBlob(caucusId: string, blobId: string): Promise<BlobDownload | undefined> {
    return openBlob(this.pool, caucusId, blobId);
  }

  close(): Promise<void> {
    // Appends already submitted are committed (and answered) first, not dropped.
    return (this.closing ??= this.appends.flush().then(() => this.pool.end()));
  }
}

/** A mediator device starts out as its own mediator's only device. */
async function insertDevice(db: PoolClient, device: DeviceRecord): Promise<void> {
  const made = await changed(
    db,
    `INSERT INTO devices (device_id, role, auth_public_key) VALUES ($1, $2, $3)
     ON CONFLICT (device_id) DO NOTHING`,
    [device.deviceId, device.role, device.authPublicKey],
  );
  if (made === 0) throw deviceExists();
  if (device.role === "mediator")
    await db.query("INSERT INTO mediator_devices (device_id, mediator_id) VALUES ($1, $1)", [
      device.deviceId,
    ]);
}
