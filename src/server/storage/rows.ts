import type { Role, StoredEvent } from "../../protocol/index.js";
import type {
  CaucusRecord,
  InviteRecord,
  MediatorLinkRecord,
  MembershipRecord,
  SessionRecord,
  StoredDevice,
  WelcomeRecord,
} from "./storage.js";

/**
 * Rows as either backend's driver returns them (both schemas name their columns alike), and the
 * records they make. Byte columns hold decoded bytes; the interface speaks base64url.
 */

/** A yes/no column: SQLite has no boolean type and returns 0 or 1; PostgreSQL returns a boolean. */
type Flag = number | boolean;

export type DeviceRow = { device_id: string; role: Role; auth_public_key: string; removed: Flag };

export type SessionRow = { token_hash: string; device_id: string; expires_at: number };

/** A session and its device's columns (null when no device row matched: a LEFT JOIN). */
export type SessionDeviceRow = SessionRow & {
  role: Role | null;
  auth_public_key: string | null;
  removed: Flag | null;
};

export type MembershipRow = {
  caucus_id: string;
  channel_id: string;
  device_id: string;
  role: Role;
  joined: Flag;
  from_seq: number;
  removed: Flag;
  invite_id: string | null;
  key_package: Buffer | null;
};

export type EventRow = {
  seq: number;
  event_id: string;
  sender_device_id: string;
  kind: "commit" | "application";
  epoch: number;
  /** Empty once the event is a tombstone. */
  ciphertext: Buffer;
  hash: string;
  /** A tombstone's: the SHA-256 (hex) and size of the deleted ciphertext; null while it is kept. */
  tombstone_sha256: string | null;
  tombstone_bytes: number | null;
  /** The sender's relay deletion time (epoch ms), if it gave one. */
  delete_at: number | string | null;
};

export type CaucusRow = {
  caucus_id: string;
  channel_id: string;
  epoch: number;
  head_seq: number;
  head_hash: string;
  /** Its channel's deletion time: set once the channel is closed. */
  delete_at: number | null;
  deleted_through: number;
};

export type InviteRow = {
  invite_id: string;
  caucus_id: string;
  invite_public_key: string;
  expires_at: number | null;
  used: Flag;
  revoked: Flag;
};

export type LinkRow = { link_id: string; link_public_key: string; created_by: string; used: Flag };

export type WelcomeRow = { welcome: Buffer; seq: number; hash: string; anchor_proof: string | null };

export const bytes = (b64url: string): Buffer => Buffer.from(b64url, "base64url");

export const toDevice = (r: DeviceRow): StoredDevice => ({
  deviceId: r.device_id,
  role: r.role,
  authPublicKey: r.auth_public_key,
  removed: Boolean(r.removed),
});

export const toSession = (r: SessionRow): SessionRecord => ({
  tokenHash: r.token_hash,
  deviceId: r.device_id,
  expiresAt: r.expires_at,
});

export const toSessionDevice = (r: SessionDeviceRow): { session: SessionRecord; device?: StoredDevice } => ({
  session: toSession(r),
  ...(r.role !== null && r.auth_public_key !== null && r.removed !== null
    ? {
        device: toDevice({
          device_id: r.device_id,
          role: r.role,
          auth_public_key: r.auth_public_key,
          removed: r.removed,
        }),
      }
    : {}),
});

export const toMembership = (r: MembershipRow): MembershipRecord => ({
  caucusId: r.caucus_id,
  channelId: r.channel_id,
  deviceId: r.device_id,
  role: r.role,
  joined: Boolean(r.joined),
  fromSeq: r.from_seq,
  removed: Boolean(r.removed),
  ...(r.invite_id !== null ? { inviteId: r.invite_id } : {}),
  ...(r.key_package !== null ? { keyPackage: r.key_package.toString("base64url") } : {}),
});

export const toEvent = (r: EventRow): StoredEvent => {
  const envelope = {
    seq: r.seq,
    eventId: r.event_id,
    senderDeviceId: r.sender_device_id,
    kind: r.kind,
    epoch: r.epoch,
    hash: r.hash,
    ...(r.delete_at !== null ? { deleteAt: new Date(Number(r.delete_at)).toISOString() } : {}),
  };
  return r.tombstone_sha256 === null
    ? { ...envelope, ciphertext: r.ciphertext.toString("base64url") }
    : {
        ...envelope,
        tombstone: true,
        ciphertextSha256: r.tombstone_sha256,
        ciphertextBytes: r.tombstone_bytes ?? 0,
      };
};

export const toCaucus = (r: CaucusRow): CaucusRecord => ({
  caucusId: r.caucus_id,
  channelId: r.channel_id,
  epoch: r.epoch,
  head: { seq: r.head_seq, hash: r.head_hash },
  closed: r.delete_at !== null,
  deletedThrough: r.deleted_through,
});

export const toInvite = (r: InviteRow): InviteRecord => ({
  inviteId: r.invite_id,
  caucusId: r.caucus_id,
  invitePublicKey: r.invite_public_key,
  // SQLite's migration 003 gives every invite a time; a missing one counts as long expired.
  expiresAt: r.expires_at ?? 0,
  used: Boolean(r.used),
  revoked: Boolean(r.revoked),
});

export const toLink = (r: LinkRow): MediatorLinkRecord => ({
  linkId: r.link_id,
  linkPublicKey: r.link_public_key,
  createdBy: r.created_by,
  used: Boolean(r.used),
});

export const toWelcome = (caucusId: string, deviceId: string, r: WelcomeRow): WelcomeRecord => ({
  caucusId,
  deviceId,
  welcome: r.welcome.toString("base64url"),
  seq: r.seq,
  hash: r.hash,
  ...(r.anchor_proof ? { anchorProof: r.anchor_proof } : {}),
});
