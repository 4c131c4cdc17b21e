import type Database from "better-sqlite3";
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
import { prepareRetention } from "./retention.js";
import { appendEventSync } from "./append-event.js";
import type { CommitObserver } from "../commit-observer.js";
import { GroupCommit } from "./group-commit.js";
import { openDatabase, type SqliteStorageOptions } from "./open-database.js";
import {
  bytes,
  toEvent,
  toMembership,
  toSession,
  toSessionDevice,
  toWelcome,
  type EventRow,
  type MembershipRow,
  type SessionDeviceRow,
  type SessionRow,
  type WelcomeRow,
} from "../rows.js";
import {
  readCaucus,
  readChannel,
  readDevice,
  readInvite,
  readLink,
  readMediatorDevices,
  readMembership,
} from "./reads.js";
import {
  insertToken,
  listTokens,
  prepareTokenStatements,
  revokeToken,
  spendToken,
  type TokenStatements,
} from "./registration-tokens.js";
import { prepareStatements, type Statements } from "./statements.js";
import { blobDirectory, prepareBlobs } from "./blobs.js";
import { prepareShortInvites } from "./short-invites.js";

export { sqliteFileName, type SqliteStorageOptions } from "./open-database.js";

/** Opens (creating if needed) `<dataDir>/backchannel.sqlite` and brings its schema up to date. */
export function openSqliteStorage(options: SqliteStorageOptions): Promise<Storage> {
  try {
    const db = openDatabase(options);
    const blobDir = blobDirectory("dataDir" in options ? options.dataDir : undefined);
    return Promise.resolve(new SqliteStorage(db, blobDir, options.onCommit));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * better-sqlite3 is synchronous; each method runs to completion (a transaction included) before
 * any other JavaScript, so one process never interleaves two appends. Appends are the exception to
 * "at once": they queue for the next group commit (group-commit.ts), which applies them one after
 * another in one transaction. `.immediate()` takes the write lock at BEGIN, so two processes
 * sharing the file cannot both read the same head either.
 */
class SqliteStorage implements Storage {
  private readonly db: Database.Database;
  private readonly stmt: Statements;
  private readonly sweep: ReturnType<typeof prepareRetention>;
  private readonly tokens: TokenStatements;
  private readonly blobs: ReturnType<typeof prepareBlobs>;
  private readonly shortInvites: ReturnType<typeof prepareShortInvites>;

  /** Appends that arrive together share one transaction and one fsync (group-commit.ts). */
  private readonly appends: GroupCommit<AppendEventInput, AppendEventResult>;

  constructor(db: Database.Database, blobDir: string, onCommit?: CommitObserver) {
    this.db = db;
    this.stmt = prepareStatements(db);
    this.blobs = prepareBlobs(db, this.stmt, blobDir);
    this.sweep = prepareRetention(db);
    this.tokens = prepareTokenStatements(db);
    this.shortInvites = prepareShortInvites(db);
    this.appends = new GroupCommit(
      db,
      (input) => {
        const result = appendEventSync(this.stmt, input);
        if (!result.duplicate)
          // A party device is in one caucus only: removed from it, it is done for.
          for (const d of input.removes)
            if (readDevice(this.stmt, d)?.role === "party") this.removeDeviceSync(d);
        return result;
      },
      undefined,
      onCommit,
    );
  }

  // ── devices and login ──

  createDevice(device: DeviceRecord): Promise<void> {
    return this.run(() => this.insertDevice(device));
  }

  getDevice(deviceId: string): Promise<StoredDevice | undefined> {
    return this.run(() => readDevice(this.stmt, deviceId));
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
      const r = this.stmt.getSession.get(tokenHash) as SessionRow | undefined;
      return r && toSession(r);
    });
  }

  getSessionDevice(
    tokenHash: string,
  ): Promise<{ session: SessionRecord; device?: StoredDevice } | undefined> {
    return this.run(() => {
      const r = this.stmt.getSessionDevice.get(tokenHash) as SessionDeviceRow | undefined;
      return r && toSessionDevice(r);
    });
  }

  deleteSessions(deviceId: string, tokenHash?: string): Promise<number> {
    return this.run(
      () =>
        (tokenHash === undefined
          ? this.stmt.deleteSessionsOf.run(deviceId)
          : this.stmt.deleteSession.run(deviceId, tokenHash)
        ).changes,
    );
  }

  pruneExpired(now: number): Promise<void> {
    return this.run(() => {
      this.stmt.pruneChallenges.run(now);
      this.stmt.pruneSessions.run(now);
      this.shortInvites.prune(now);
    });
  }

  // ── registration tokens ──

  createRegistrationToken(token: RegistrationTokenRecord): Promise<void> {
    return this.run(() => insertToken(this.tokens, token));
  }

  listRegistrationTokens(): Promise<RegistrationTokenInfo[]> {
    return this.run(() => listTokens(this.tokens));
  }

  revokeRegistrationToken(tokenId: string): Promise<boolean> {
    return this.run(() => revokeToken(this.tokens, tokenId));
  }

  registerWithToken(r: TokenRegistration): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          // The use first: only a token holder learns whether a device id is taken.
          spendToken(this.tokens, r.tokenHash, r.now);
          this.insertDevice(r.device);
        })
        .immediate(),
    );
  }

  // ── short invites ──

  putShortInvite(shortInvite: ShortInviteRecord): Promise<void> {
    return this.run(() => this.shortInvites.put(shortInvite));
  }

  takeShortInvite(lookupId: string, now: number): Promise<string | undefined> {
    return this.run(() => this.shortInvites.take(lookupId, now));
  }

  // ── channels, caucuses, invites ──

  createChannel(channel: {
    channelId: string;
    mediatorDeviceIds: readonly string[];
    retentionDays?: number;
  }): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          this.stmt.insertChannel.run(channel.channelId, channel.retentionDays ?? null);
          for (const d of channel.mediatorDeviceIds) {
            this.stmt.insertChannelMediator.run(channel.channelId, d);
          }
        })
        .immediate(),
    );
  }

  setChannelRetention(channelId: string, retentionDays: number | null): Promise<void> {
    return this.run(() => {
      if (this.stmt.setRetention.run(retentionDays, channelId).changes === 0) throw notFound();
    });
  }

  closeChannel(channelId: string, deleteAt: number): Promise<void> {
    return this.run(() => {
      if (this.stmt.closeChannel.run(deleteAt, channelId).changes === 0) throw notFound();
    });
  }

  sweepRetention(now: number, options?: SweepOptions): Promise<SweepResult> {
    return this.run(() => {
      const result = this.sweep(now, options);
      // Blobs go with the events appended after them (their deleted_through just moved).
      this.blobs.sweep();
      return result;
    });
  }

  getChannel(channelId: string): Promise<ChannelRecord | undefined> {
    return this.run(() => readChannel(this.stmt, channelId));
  }

  listChannels(mediatorDeviceId: string): Promise<ChannelRecord[]> {
    return this.run(() =>
      this.db
        .transaction(() =>
          (this.stmt.channelsOfMediator.all(mediatorDeviceId) as { channel_id: string }[]).map((r) =>
            readChannel(this.stmt, r.channel_id)!,
          ),
        )
        .deferred(),
    );
  }

  createCaucus(caucus: { caucusId: string; channelId: string; creatorDeviceId?: string }): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const channel = readChannel(this.stmt, caucus.channelId);
          if (!channel) throw notFound();
          if (channel.deleteAt !== undefined) throw channelClosed();
          if (
            caucus.creatorDeviceId !== undefined &&
            !channel.mediatorDeviceIds.includes(caucus.creatorDeviceId)
          )
            throw notFound();
          this.stmt.insertCaucus.run(caucus.caucusId, caucus.channelId, genesisHash(caucus.caucusId));
          if (caucus.creatorDeviceId === undefined)
            this.stmt.insertMediatorMemberships.run(caucus.caucusId, caucus.channelId);
          else
            this.stmt.insertMediatorMembershipsFor.run({
              caucus: caucus.caucusId,
              creator: caucus.creatorDeviceId,
              channel: caucus.channelId,
            });
        })
        .immediate(),
    );
  }

  getCaucus(caucusId: string): Promise<CaucusRecord | undefined> {
    return this.run(() => readCaucus(this.stmt, caucusId));
  }

  createInvite(invite: Omit<InviteRecord, "used" | "revoked">): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const existing = readInvite(this.stmt, invite.inviteId);
          if (existing) return checkInviteRetry(existing, invite);
          if (!readCaucus(this.stmt, invite.caucusId)) throw notFound();
          this.stmt.insertInvite.run(
            invite.inviteId,
            invite.caucusId,
            invite.invitePublicKey,
            invite.expiresAt,
          );
        })
        .immediate(),
    );
  }

  getInvite(inviteId: string): Promise<InviteRecord | undefined> {
    return this.run(() => readInvite(this.stmt, inviteId));
  }

  redeemInvite(r: Redemption): Promise<MembershipRecord> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const invite = readInvite(this.stmt, r.inviteId);
          checkRedeemable(invite, r.now);
          this.insertDevice({ deviceId: r.deviceId, role: "party", authPublicKey: r.authPublicKey });
          this.stmt.useInvite.run(r.inviteId);
          this.stmt.insertPendingMembership.run(invite.caucusId, r.deviceId, r.inviteId, bytes(r.keyPackage));
          return readMembership(this.stmt, invite.caucusId, r.deviceId)!;
        })
        .immediate(),
    );
  }

  revokeInvite(revocation: {
    inviteId: string;
    byDeviceId: string;
  }): Promise<{ caucusId: string; droppedDeviceId?: string }> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const invite = readInvite(this.stmt, revocation.inviteId);
          if (!invite) throw notFound();
          checkRevoker(readMembership(this.stmt, invite.caucusId, revocation.byDeviceId));
          this.stmt.revokeInvite.run(invite.inviteId);
          const pending = this.stmt.pendingRedeemer.get(invite.inviteId) as { device_id: string } | undefined;
          if (!pending) return { caucusId: invite.caucusId };
          this.stmt.removeMember.run(invite.caucusId, pending.device_id);
          this.removeDeviceSync(pending.device_id);
          return { caucusId: invite.caucusId, droppedDeviceId: pending.device_id };
        })
        .immediate(),
    );
  }

  // ── the mediator's devices (staff) ──

  listRemovalProofs(deviceId: string): Promise<{ caucusId: string; signature: string }[]> {
    return this.run(() =>
      (this.stmt.listRemovalProofs.all(deviceId) as { caucus_id: string; removal_proof: string }[]).map(
        (r) => ({
          caucusId: r.caucus_id,
          signature: r.removal_proof,
        }),
      ),
    );
  }

  listMediatorDevices(deviceId: string): Promise<string[]> {
    return this.run(() => this.db.transaction(() => readMediatorDevices(this.stmt, deviceId)).deferred());
  }

  createMediatorLink(link: Omit<MediatorLinkRecord, "used">): Promise<void> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const existing = readLink(this.stmt, link.linkId);
          if (existing) return checkLinkRetry(existing, link);
          if (readMediatorDevices(this.stmt, link.createdBy).length === 0) throw notFound();
          this.stmt.insertLink.run(link.linkId, link.linkPublicKey, link.createdBy);
        })
        .immediate(),
    );
  }

  getMediatorLink(linkId: string): Promise<MediatorLinkRecord | undefined> {
    return this.run(() => readLink(this.stmt, linkId));
  }

  redeemMediatorLink(r: LinkRedemption): Promise<{ caucusIds: string[] }> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const link = readLink(this.stmt, r.linkId);
          checkLinkRedeemable(link);
          const mediator = this.stmt.mediatorOf.get(link.createdBy) as { mediator_id: string } | undefined;
          if (!mediator) throw unknownLink();
          this.insertDevice({ deviceId: r.deviceId, role: "mediator", authPublicKey: r.authPublicKey });
          this.stmt.setMediator.run(mediator.mediator_id, r.deviceId);
          this.stmt.useLink.run(r.deviceId, r.linkId);
          const caucusIds: string[] = [];
          for (const { channel_id } of this.stmt.channelsOfMediator.all(link.createdBy) as {
            channel_id: string;
          }[]) {
            this.stmt.insertChannelMediator.run(channel_id, r.deviceId);
            for (const caucusId of readChannel(this.stmt, channel_id)!.caucusIds) {
              this.stmt.insertPendingMediatorMembership.run(caucusId, r.deviceId);
              caucusIds.push(caucusId);
            }
          }
          return { caucusIds };
        })
        .immediate(),
    );
  }

  putMediatorKeyPackage(caucusId: string, deviceId: string, keyPackage: string): Promise<void> {
    return this.run(() => {
      if (this.stmt.putKeyPackage.run(bytes(keyPackage), caucusId, deviceId).changes !== 1) throw notFound();
    });
  }

  removeMediatorDevice(removal: {
    byDeviceId: string;
    deviceId: string;
  }): Promise<{ droppedCaucusIds: string[] }> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const { byDeviceId, deviceId } = removal;
          checkStaffRemoval(byDeviceId, deviceId, readMediatorDevices(this.stmt, byDeviceId));
          checkNoLongerMember((this.stmt.joinedMemberships.get(deviceId) as { n: number }).n);
          this.stmt.detachMediatorDevice.run(deviceId);
          this.stmt.leaveChannels.run(deviceId);
          this.stmt.voidLinks.run(deviceId);
          const dropped = this.stmt.dropPendingMemberships.all(deviceId) as { caucus_id: string }[];
          this.removeDeviceSync(deviceId);
          return { droppedCaucusIds: dropped.map((d) => d.caucus_id) };
        })
        .immediate(),
    );
  }

  // ── memberships ──

  getMembership(caucusId: string, deviceId: string): Promise<MembershipRecord | undefined> {
    return this.run(() => readMembership(this.stmt, caucusId, deviceId));
  }

  listMemberships(deviceId: string): Promise<MembershipRecord[]> {
    return this.run(() => (this.stmt.membershipsOfDevice.all(deviceId) as MembershipRow[]).map(toMembership));
  }

  listMembers(caucusId: string): Promise<MembershipRecord[]> {
    return this.run(() => (this.stmt.membersOfCaucus.all(caucusId) as MembershipRow[]).map(toMembership));
  }

  // ── transcript ──

  appendEvent(input: AppendEventInput): Promise<AppendEventResult> {
    return this.appends.submit(input);
  }

  listEvents(caucusId: string, page: EventPage): Promise<StoredEvent[]> {
    return this.run(() => {
      const events: StoredEvent[] = [];
      let taken = 0;
      const rows = this.stmt.listEvents.iterate(caucusId, page.afterSeq, page.limit) as Iterable<EventRow>;
      for (const row of rows) {
        events.push(toEvent(row));
        taken += row.ciphertext.length; // a tombstone's is empty
        if (taken >= page.maxBytes) break; // leaving the loop ends (and resets) the statement
      }
      return events;
    });
  }

  getWelcome(caucusId: string, deviceId: string): Promise<WelcomeRecord | undefined> {
    return this.run(() => {
      const r = this.stmt.getWelcome.get(caucusId, deviceId) as WelcomeRow | undefined;
      return r && toWelcome(caucusId, deviceId, r);
    });
  }

  // ── attachment blobs ──

  putBlob(input: PutBlobInput): Promise<void> {
    return this.blobs.put(input);
  }

  openBlob(caucusId: string, blobId: string): Promise<BlobDownload | undefined> {
    return this.run(() => this.blobs.open(caucusId, blobId));
  }

  close(): Promise<void> {
    return this.run(() => {
      if (!this.db.open) return;
      // Appends already submitted are committed (and answered) first, not dropped.
      this.appends.flush();
      this.db.close();
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

  private removeDeviceSync(deviceId: string): void {
    this.stmt.removeDevice.run(deviceId);
    this.stmt.deleteSessionsOf.run(deviceId);
  }

  private insertDevice(device: DeviceRecord): void {
    if (readDevice(this.stmt, device.deviceId)) throw deviceExists();
    this.stmt.insertDevice.run(device.deviceId, device.role, device.authPublicKey);
    // A mediator device starts out as its own mediator's only device.
    if (device.role === "mediator") this.stmt.insertMediatorDevice.run(device.deviceId, device.deviceId);
  }
}
