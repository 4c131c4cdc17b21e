import type { Role, StoredEvent } from "../../../protocol/index.js";
import type {
  CaucusRecord,
  ChannelRecord,
  InviteRecord,
  MediatorLinkRecord,
  MembershipRecord,
  StoredDevice,
} from "../storage.js";
import type { Statements } from "./statements.js";

/** Row shapes and synchronous reads, shared by the storage methods and the append transaction. */

export interface MembershipRow {
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

export interface EventRow {
  seq: number;
  event_id: string;
  sender_device_id: string;
  kind: "commit" | "application";
  epoch: number;
  ciphertext: Buffer;
  hash: string;
}

export interface CaucusRow {
  caucus_id: string;
  channel_id: string;
  epoch: number;
  head_seq: number;
  head_hash: string;
}

export const toMembership = (r: MembershipRow): MembershipRecord => ({
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

export const toEvent = (r: EventRow): StoredEvent => ({
  seq: r.seq,
  eventId: r.event_id,
  senderDeviceId: r.sender_device_id,
  kind: r.kind,
  epoch: r.epoch,
  ciphertext: r.ciphertext.toString("base64url"),
  hash: r.hash,
});

export const toCaucus = (r: CaucusRow): CaucusRecord => ({
  caucusId: r.caucus_id,
  channelId: r.channel_id,
  epoch: r.epoch,
  head: { seq: r.head_seq, hash: r.head_hash },
});

/** Byte columns hold decoded bytes; the interface speaks base64url. */
export const bytes = (b64url: string): Buffer => Buffer.from(b64url, "base64url");

export function readDevice(stmt: Statements, deviceId: string): StoredDevice | undefined {
  const r = stmt.getDevice.get(deviceId) as
    { device_id: string; role: Role; auth_public_key: string; removed: number } | undefined;
  return (
    r && { deviceId: r.device_id, role: r.role, authPublicKey: r.auth_public_key, removed: r.removed === 1 }
  );
}

export function readChannel(stmt: Statements, channelId: string): ChannelRecord | undefined {
  if (!stmt.channelExists.get(channelId)) return undefined;
  return {
    channelId,
    mediatorDeviceIds: (stmt.channelMediators.all(channelId) as { device_id: string }[]).map(
      (r) => r.device_id,
    ),
    caucusIds: (stmt.channelCaucuses.all(channelId) as { caucus_id: string }[]).map((r) => r.caucus_id),
  };
}

export function readCaucus(stmt: Statements, caucusId: string): CaucusRecord | undefined {
  const r = stmt.getCaucus.get(caucusId) as CaucusRow | undefined;
  return r && toCaucus(r);
}

export function readInvite(stmt: Statements, inviteId: string): InviteRecord | undefined {
  const r = stmt.getInvite.get(inviteId) as
    | {
        invite_id: string;
        caucus_id: string;
        invite_public_key: string;
        expires_at: number | null;
        used: number;
        revoked: number;
      }
    | undefined;
  return (
    r && {
      inviteId: r.invite_id,
      caucusId: r.caucus_id,
      invitePublicKey: r.invite_public_key,
      // Migration 003 gives every invite a time; a missing one counts as long expired.
      expiresAt: r.expires_at ?? 0,
      used: r.used === 1,
      revoked: r.revoked === 1,
    }
  );
}

export function readMembership(
  stmt: Statements,
  caucusId: string,
  deviceId: string,
): MembershipRecord | undefined {
  const r = stmt.getMembership.get(caucusId, deviceId) as MembershipRow | undefined;
  return r && toMembership(r);
}

export function readLink(stmt: Statements, linkId: string): MediatorLinkRecord | undefined {
  const r = stmt.getLink.get(linkId) as
    { link_id: string; link_public_key: string; created_by: string; used: number } | undefined;
  return (
    r && { linkId: r.link_id, linkPublicKey: r.link_public_key, createdBy: r.created_by, used: r.used === 1 }
  );
}

/** The devices of the mediator `deviceId` belongs to, oldest first; [] if it is no mediator device. */
export function readMediatorDevices(stmt: Statements, deviceId: string): string[] {
  const r = stmt.mediatorOf.get(deviceId) as { mediator_id: string } | undefined;
  if (!r) return [];
  return (stmt.devicesOfMediator.all(r.mediator_id) as { device_id: string }[]).map((x) => x.device_id);
}
