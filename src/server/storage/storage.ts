import type { BlobDownload, EnvelopeKind, Role, StoredEvent } from "../../protocol/index.js";

/**
 * Everything the relay keeps. One small async interface so a PostgreSQL backend can replace the
 * embedded SQLite one and be held to the same test suite (storage.test.ts). Byte fields travel
 * as base64url strings, the wire form; each backend picks its own column type.
 *
 * Times are epoch milliseconds and exist only where something expires. Events and memberships
 * carry no timestamps at all: when messages moved is itself something the story keeps secret.
 */
export interface Storage {
  // ── devices and login ──
  /** Throws ServerError device_exists if the id is taken. */
  createDevice(device: DeviceRecord): Promise<void>;
  getDevice(deviceId: string): Promise<StoredDevice | undefined>;
  createChallenge(challenge: ChallengeRecord): Promise<void>;
  /** Deletes the challenge and returns what it was: a nonce is spent by any attempt to use it. */
  takeChallenge(nonce: string): Promise<ChallengeRecord | undefined>;
  createSession(session: SessionRecord): Promise<void>;
  getSession(tokenHash: string): Promise<SessionRecord | undefined>;
  /**
   * The session and the device it belongs to, read at one moment: what every authenticated
   * request needs, in one query. `device` is absent only if the session names no stored device.
   */
  getSessionDevice(tokenHash: string): Promise<{ session: SessionRecord; device?: StoredDevice } | undefined>;
  /**
   * Deletes sessions of `deviceId`: the one with `tokenHash`, or every one when it is omitted.
   * Returns how many went.
   */
  deleteSessions(deviceId: string, tokenHash?: string): Promise<number>;
  /** The removal proofs kept for a device (see AppendEventInput.removalProofs). */
  listRemovalProofs(deviceId: string): Promise<{ caucusId: string; signature: string }[]>;
  /** Drops challenges, sessions and short invites that expired before `now`. */
  pruneExpired(now: number): Promise<void>;

  // ── registration tokens (closed registration: the operator hands them out) ──
  /** Throws invalid_request if the id or the hash is taken. */
  createRegistrationToken(token: RegistrationTokenRecord): Promise<void>;
  /** Every token, revoked and used-up ones included, oldest first; never a hash. */
  listRegistrationTokens(): Promise<RegistrationTokenInfo[]>;
  /** Marks the token revoked for good; false if no token has this id. Idempotent. */
  revokeRegistrationToken(tokenId: string): Promise<boolean>;
  /**
   * One transaction: spends one use of the token whose hash is `tokenHash` and registers the
   * device (as createDevice). Throws registration_token_invalid — one answer whether the token is
   * unknown, used up, revoked or expired (expiresAt <= now), so a caller learns nothing about
   * which tokens exist — or device_exists; either way nothing has changed, the use included.
   * Two registrations racing for a token's last use: exactly one wins, on any number of nodes.
   */
  registerWithToken(registration: TokenRegistration): Promise<void>;

  // ── short invites (an invite code sealed under a short code; the relay holds only the box) ──
  /** Throws invalid_request (409) if the lookup id is taken. */
  putShortInvite(shortInvite: ShortInviteRecord): Promise<void>;
  /**
   * Deletes the short invite and returns its box, if it exists and expiresAt > now; undefined
   * otherwise, one answer for unknown, taken and expired (an expired one found goes too). One
   * statement: two takers racing, on any number of nodes, get it once between them.
   */
  takeShortInvite(lookupId: string, now: number): Promise<string | undefined>;

  // ── channels, caucuses, invites ──
  createChannel(channel: {
    channelId: string;
    mediatorDeviceIds: readonly string[];
    retentionDays?: number;
  }): Promise<void>;
  /** null: keep the channel's messages. Throws not_found for an unknown channel. */
  setChannelRetention(channelId: string, retentionDays: number | null): Promise<void>;
  /**
   * Closes the channel: appends to its caucuses, and new caucuses, are refused (channel_closed)
   * from now on, and the sweeper deletes its application messages at `deleteAt`. Closing a closed
   * channel keeps its first deleteAt. Throws not_found for an unknown channel.
   */
  closeChannel(channelId: string, deleteAt: number): Promise<void>;
  /**
   * One pass of the retention sweeper (rules in retention-rules.ts): marks where each retained
   * caucus's head stands now, and turns into tombstones the application messages that are due.
   * Idempotent, and safe to run on several relay nodes at once.
   */
  sweepRetention(now: number, options?: SweepOptions): Promise<SweepResult>;
  getChannel(channelId: string): Promise<ChannelRecord | undefined>;
  /** Channels the device mediates, oldest first. */
  listChannels(mediatorDeviceId: string): Promise<ChannelRecord[]>;
  /**
   * Epoch starts at 0. The creator (the device that makes the MLS group) becomes a joined member
   * from seq 1; the channel's other mediator devices become pending members, to be added by a
   * commit once they upload a key package. With no creator named, every mediator device of the
   * channel is joined from seq 1.
   */
  createCaucus(caucus: { caucusId: string; channelId: string; creatorDeviceId?: string }): Promise<void>;
  getCaucus(caucusId: string): Promise<CaucusRecord | undefined>;
  /** Idempotent for the same invite; throws invite_invalid (409) if the id names a different one. */
  createInvite(invite: Omit<InviteRecord, "used" | "revoked">): Promise<void>;
  getInvite(inviteId: string): Promise<InviteRecord | undefined>;
  /**
   * One transaction: marks the invite used, registers the party device and gives it a pending
   * membership holding its key package. Throws, in this order, invite_invalid, invite_revoked,
   * invite_expired (expiresAt <= now), invite_used or device_exists.
   */
  redeemInvite(redemption: Redemption): Promise<MembershipRecord>;
  /**
   * One transaction: the invite is revoked for good. A device that redeemed it and is still
   * pending loses its membership and is removed (see removed devices below); an admitted one
   * stays. Throws not_found unless the invite exists and `byDeviceId` is a joined, non-removed
   * mediator member of its caucus. Idempotent.
   */
  revokeInvite(revocation: {
    inviteId: string;
    byDeviceId: string;
  }): Promise<{ caucusId: string; droppedDeviceId?: string }>;

  // ── the mediator's devices (staff) ──
  /**
   * Every current device of the mediator this device belongs to, itself included, oldest first.
   * A mediator device registered on its own is its own, only device. Empty for a party device.
   */
  listMediatorDevices(deviceId: string): Promise<string[]>;
  /** Idempotent for the same link; throws invite_invalid (409) if the id names a different one. */
  createMediatorLink(link: Omit<MediatorLinkRecord, "used">): Promise<void>;
  getMediatorLink(linkId: string): Promise<MediatorLinkRecord | undefined>;
  /**
   * One transaction: marks the link used, registers the new device as one of the linking device's
   * mediator's devices, makes it a mediator of every channel the linking device mediates and a
   * pending member of each of their caucuses. Throws invite_invalid (unknown link, or its maker
   * is no longer one of the mediator's devices), invite_used or device_exists.
   */
  redeemMediatorLink(redemption: LinkRedemption): Promise<{ caucusIds: string[] }>;
  /**
   * Stores the key package of a pending mediator member (replacing an earlier one). Throws
   * not_found unless the device is a pending, non-removed mediator member of the caucus.
   */
  putMediatorKeyPackage(caucusId: string, deviceId: string, keyPackage: string): Promise<void>;
  /**
   * One transaction: `deviceId` stops being one of the mediator's devices. It leaves every
   * channel, its pending memberships are dropped (returned), links it made and nobody redeemed
   * are void, and the device is removed (below). Throws not_found unless both are current devices of the same mediator and differ;
   * still_member if it is still a joined member of a caucus (a commit must remove it first).
   */
  removeMediatorDevice(removal: {
    byDeviceId: string;
    deviceId: string;
  }): Promise<{ droppedCaucusIds: string[] }>;

  // ── memberships ──
  getMembership(caucusId: string, deviceId: string): Promise<MembershipRecord | undefined>;
  /** The device's memberships that are not removed. */
  listMemberships(deviceId: string): Promise<MembershipRecord[]>;
  /** Every membership of the caucus, removed ones included. */
  listMembers(caucusId: string): Promise<MembershipRecord[]>;

  // ── transcript ──
  /**
   * Idempotency, epoch rules, seq and hash chain, welcomes and removals (the rules are spelled
   * out on AppendEventInput), all or nothing. Throws ServerError on any rule broken, and then
   * nothing has changed. Resolves only once the event is durable. Concurrent appends may share
   * one transaction (group commit); each is applied, in call order, exactly as if it ran alone
   * at that point, so one's refusal never affects another.
   */
  appendEvent(input: AppendEventInput): Promise<AppendEventResult>;
  /** Events with seq > afterSeq, in seq order: at most `limit`, and see EventPage on size. */
  listEvents(caucusId: string, page: EventPage): Promise<StoredEvent[]>;
  getWelcome(caucusId: string, deviceId: string): Promise<WelcomeRecord | undefined>;

  // ── attachment blobs (opaque, encrypted on the device) ──
  /**
   * Stores a blob as its body streams in, never whole in memory. First, in one transaction (rules
   * in blob-rules.ts): the caucus is open (channel_closed), the id is new (invalid_request, 409),
   * and `bytes` fits the quota (quota_exceeded), counted against it at once so concurrent uploads
   * cannot overshoot it. A body of another length than `bytes`, or one that fails, is refused and
   * leaves nothing stored and nothing counted.
   */
  putBlob(input: PutBlobInput): Promise<void>;
  /**
   * The blob's bytes, streamed, if it was uploaded completely to this caucus and not deleted
   * (retention deletes a blob with the events appended after it, as their tombstones come).
   */
  openBlob(caucusId: string, blobId: string): Promise<BlobDownload | undefined>;

  close(): Promise<void>;
}

export interface PutBlobInput {
  caucusId: string;
  blobId: string;
  /** Exactly how many bytes the body holds (the upload's Content-Length). */
  bytes: number;
  body: AsyncIterable<Uint8Array>;
  /** As AppendEventInput.quota: a blob counts as ciphertext stored in its caucus. */
  quota?: { caucusBytes: number; channelBytes: number };
}

export interface DeviceRecord {
  deviceId: string;
  role: Role;
  /** Raw Ed25519 public key, base64url. */
  authPublicKey: string;
}

/**
 * A removed device — a party device removed from its caucus by a commit or dropped with a revoked
 * invite, a mediator device removed from its mediator — keeps its row (ids stay taken) but is
 * done for: its sessions are deleted in the same transaction and it may not log in again.
 */
export interface StoredDevice extends DeviceRecord {
  removed: boolean;
}

export interface ChallengeRecord {
  nonce: string;
  /** The device that asked; it may not exist (unknown devices get nonces too). */
  deviceId: string;
  expiresAt: number;
}

export interface SessionRecord {
  /** SHA-256 (hex) of the bearer token: a copy of the database cannot be replayed as logins. */
  tokenHash: string;
  deviceId: string;
  expiresAt: number;
}

/** A short invite as the relay keeps it: the box is sealed on the mediator's device (sdk/short-invite.ts). */
export interface ShortInviteRecord {
  /** base64url, derived from the short code; says nothing about the invite. */
  lookupId: string;
  /** base64url AES-256-GCM box of the invite code. */
  box: string;
  expiresAt: number;
}

/**
 * A registration token as the relay keeps it: the token itself is shown once, to the operator
 * who made it, and only its SHA-256 is stored (as a session's), so a copy of the database
 * registers nobody. `createdAt` is for the operator's list; it says nothing about any caucus.
 */
export interface RegistrationTokenRecord {
  /** Public handle for list and revoke; not a secret. */
  tokenId: string;
  /** SHA-256 (hex) of the token. */
  tokenHash: string;
  /** How many registrations it allows in all. */
  uses: number;
  /** Registrations from this time on are refused; absent: never expires. */
  expiresAt?: number;
  /** The operator's own words about it (who it is for). */
  note?: string;
  createdAt: number;
}

export interface RegistrationTokenInfo extends Omit<RegistrationTokenRecord, "tokenHash"> {
  /** Registrations it has made. */
  used: number;
  revoked: boolean;
}

export interface TokenRegistration {
  tokenHash: string;
  device: DeviceRecord;
  /** The relay's clock, for the token's expiry. */
  now: number;
}

export interface ChannelRecord {
  channelId: string;
  mediatorDeviceIds: string[];
  /** Oldest first. */
  caucusIds: string[];
  /** Application messages are tombstoned this many days after they were appended; absent: kept. */
  retentionDays?: number;
  /** Set once the channel is closed: when its application messages are tombstoned. */
  deleteAt?: number;
}

export interface SweepOptions {
  /** How often a caucus's head is marked (the grain of retention); default one hour. */
  markIntervalMs?: number;
  /** At most this many events are tombstoned per caucus per pass; default 500. */
  batch?: number;
}

export interface SweepResult {
  /** Caucuses whose head was marked in this pass. */
  marked: number;
  /** Events turned into tombstones in this pass. */
  tombstoned: number;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface CaucusRecord {
  caucusId: string;
  channelId: string;
  /** Current MLS epoch: the one the next commit must be made in. */
  epoch: number;
  /** seq 0 with the genesis hash until the first event. */
  head: ChainHead;
  /** Its channel is closed: appends are refused (channel_closed). */
  closed: boolean;
  /** Every application message up to this seq is a tombstone (0: none yet). */
  deletedThrough: number;
}

export interface InviteRecord {
  inviteId: string;
  caucusId: string;
  invitePublicKey: string;
  /** Redemptions from this time on are refused. */
  expiresAt: number;
  used: boolean;
  revoked: boolean;
}

export interface Redemption {
  inviteId: string;
  deviceId: string;
  authPublicKey: string;
  keyPackage: string;
  /** The relay's clock, for the invite's expiry. */
  now: number;
}

export interface MediatorLinkRecord {
  linkId: string;
  linkPublicKey: string;
  /** The mediator device that made the link. */
  createdBy: string;
  used: boolean;
}

export interface LinkRedemption {
  linkId: string;
  deviceId: string;
  authPublicKey: string;
}

export interface MembershipRecord {
  caucusId: string;
  /** Server-side only: a party device is never told its channel. */
  channelId: string;
  deviceId: string;
  role: Role;
  /**
   * False while a device waits for the commit that welcomes it: a party device that redeemed an
   * invite, or a mediator device added after the caucus was made.
   */
  joined: boolean;
  /** First seq this device may read; 0 while pending. */
  fromSeq: number;
  removed: boolean;
  /** Party memberships only: the invite redeemed. */
  inviteId?: string;
  /**
   * Only while pending; dropped once the device is welcomed or removed. A pending mediator device
   * has none until it uploads one.
   */
  keyPackage?: string;
}

export interface WelcomeDelivery {
  deviceId: string;
  welcome: string;
  /** Opaque to the relay: the mediator's signature over the device's anchor. */
  anchorProof?: string;
}

/**
 * Rules, in order:
 * 1. The sender must be a joined, non-removed member of the caucus (else not_found).
 * 2. An eventId already in the caucus: same sender → the stored {seq, hash}, duplicate; other
 *    sender → event_id_conflict. Then, if the caucus's channel is closed: channel_closed.
 * 3. application: epoch must equal the caucus epoch (stale_epoch); no welcomes or removes.
 *    commit: mediator members only (forbidden); epoch must equal the caucus epoch
 *    (epoch_conflict: the first commit for an epoch wins); on success the epoch advances.
 * 4. With `after`, the head must be exactly that (else head_moved). seq = head + 1;
 *    hash = linkHash(head hash, event) (protocol/transcript.ts).
 * 5. Each welcome targets a pending member of this caucus, which joins from seq + 1.
 * 6. Each remove targets a joined member of this caucus other than the sender: a party device,
 *    or another mediator device (the sender stays, so a caucus always keeps a mediator device).
 *    The removed device loses all access; a removed party device (it had this one caucus) is a
 *    removed device (StoredDevice), its sessions gone.
 * 7. With `quota`, an application message whose ciphertext would take the caucus's stored
 *    ciphertext past quota.caucusBytes, or its channel's (all its caucuses) past
 *    quota.channelBytes, is refused (quota_exceeded). Commits are never refused by the quota (a
 *    mediator must always be able to remove a member, even from a full caucus), but count.
 *    Checked after rules 1–2, so a retry of a stored event still gets its answer.
 * 8. `deleteAt` (an application message only, else delete_at_invalid) must be after `now` and at
 *    most ten years on (delete_at_invalid); the link's hash covers it, and the sweeper deletes the
 *    message's ciphertext once it passes (retention-rules.ts). Checked after rules 1–2, as rule 7.
 */
export interface AppendEventInput {
  caucusId: string;
  senderDeviceId: string;
  eventId: string;
  kind: EnvelopeKind;
  epoch: number;
  ciphertext: string;
  welcomes: readonly WelcomeDelivery[];
  removes: readonly string[];
  /** The mediator's signature over each removal (opaque to the relay), kept for that device. */
  removalProofs?: readonly { deviceId: string; signature: string }[];
  after?: { seq: number; hash: string };
  /** Rule 7: the most ciphertext a caucus and a channel may hold, bytes. */
  quota?: { caucusBytes: number; channelBytes: number };
  /** Rule 8: the sender's relay deletion time, well-formed (protocol/relay-deletion.ts). */
  deleteAt?: string;
  /** Rule 8: the relay's clock at the append (never stored: events carry no time). */
  now?: number;
}

export interface AppendEventResult {
  seq: number;
  hash: string;
  duplicate: boolean;
  /**
   * The devices that may read the new event, as the append leaves the caucus: its joined,
   * non-removed members with fromSeq <= seq, oldest membership first (a device the commit welcomes
   * reads from the next event; one it removes, not this one). Read under the append's own lock, so
   * the relay pushes to them without reading the caucus again. Empty for a duplicate. Never on the
   * wire: a party is not told who else is in its caucus.
   */
  readers: string[];
}

export interface EventPage {
  afterSeq: number;
  limit: number;
  /**
   * Stop once the ciphertext bytes taken reach this (the event that crosses it is included, so a
   * page always makes progress). Keeps one page of large MLS messages from filling memory.
   */
  maxBytes: number;
}

export interface WelcomeRecord {
  caucusId: string;
  deviceId: string;
  welcome: string;
  /** The commit that added the device, and the chain hash at it. */
  seq: number;
  hash: string;
  anchorProof?: string;
}
