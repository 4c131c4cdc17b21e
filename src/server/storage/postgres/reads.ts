import {
  toCaucus,
  toDevice,
  toInvite,
  toLink,
  toMembership,
  type CaucusRow,
  type DeviceRow,
  type InviteRow,
  type LinkRow,
  type MembershipRow,
} from "../rows.js";
import type {
  CaucusRecord,
  ChannelRecord,
  InviteRecord,
  MediatorLinkRecord,
  MembershipRecord,
  StoredDevice,
} from "../storage.js";
import type { Statement } from "./statement.js";
import { firstRow, rows, type Queryable } from "./transaction.js";

/** Reads shared by the storage methods and the append transaction (row shapes: ../rows.ts). */

const membershipSelect = `
  SELECT m.caucus_id, c.channel_id, m.device_id, m.role, m.joined, m.from_seq, m.removed,
         m.invite_id, m.key_package
  FROM memberships m JOIN caucuses c ON c.caucus_id = m.caucus_id`;

export async function readDevice(db: Queryable, deviceId: string): Promise<StoredDevice | undefined> {
  const r = await firstRow<DeviceRow>(
    db,
    "SELECT device_id, role, auth_public_key, removed FROM devices WHERE device_id = $1",
    [deviceId],
  );
  return r && toDevice(r);
}

/** One statement, so the mediators and caucuses are read at one moment. */
const channelSelect = `
  SELECT ch.channel_id, ch.retention_days, ch.delete_at,
         ARRAY(SELECT device_id FROM channel_mediators
               WHERE channel_id = ch.channel_id ORDER BY position) AS mediator_device_ids,
         ARRAY(SELECT caucus_id FROM caucuses
               WHERE channel_id = ch.channel_id ORDER BY position) AS caucus_ids
  FROM channels ch`;

type ChannelRow = {
  channel_id: string;
  retention_days: number | null;
  delete_at: number | null;
  mediator_device_ids: string[];
  caucus_ids: string[];
};

const toChannel = (r: ChannelRow): ChannelRecord => ({
  channelId: r.channel_id,
  ...(r.retention_days !== null ? { retentionDays: r.retention_days } : {}),
  ...(r.delete_at !== null ? { deleteAt: r.delete_at } : {}),
  mediatorDeviceIds: r.mediator_device_ids,
  caucusIds: r.caucus_ids,
});

export async function readChannel(db: Queryable, channelId: string): Promise<ChannelRecord | undefined> {
  const r = await firstRow<ChannelRow>(db, `${channelSelect} WHERE ch.channel_id = $1`, [channelId]);
  return r && toChannel(r);
}

/** The channels a device mediates, oldest first (by when it became their mediator). */
export async function readChannelsOf(db: Queryable, deviceId: string): Promise<ChannelRecord[]> {
  return (
    await rows<ChannelRow>(
      db,
      `${channelSelect} JOIN channel_mediators cm ON cm.channel_id = ch.channel_id
       WHERE cm.device_id = $1 ORDER BY cm.position`,
      [deviceId],
    )
  ).map(toChannel);
}

export async function readCaucus(db: Queryable, caucusId: string): Promise<CaucusRecord | undefined> {
  const r = await firstRow<CaucusRow>(
    db,
    `SELECT c.caucus_id, c.channel_id, c.epoch, c.head_seq, c.head_hash, c.deleted_through, ch.delete_at
     FROM caucuses c JOIN channels ch ON ch.channel_id = c.channel_id WHERE c.caucus_id = $1`,
    [caucusId],
  );
  return r && toCaucus(r);
}

export async function readInvite(
  db: Queryable,
  inviteId: string,
  { lock = false }: { lock?: boolean } = {},
): Promise<InviteRecord | undefined> {
  const r = await firstRow<InviteRow>(
    db,
    `SELECT invite_id, caucus_id, invite_public_key, expires_at, used, revoked
     FROM invites WHERE invite_id = $1 ${lock ? "FOR UPDATE" : ""}`,
    [inviteId],
  );
  return r && toInvite(r);
}

export async function readMembership(
  db: Queryable,
  caucusId: string,
  deviceId: string,
): Promise<MembershipRecord | undefined> {
  return (await readMemberships(db, caucusId, [deviceId])).get(deviceId);
}

/** The memberships of these devices in the caucus, by device id (absent: none). */
export async function readMemberships(
  db: Queryable,
  caucusId: string,
  deviceIds: readonly string[],
): Promise<Map<string, MembershipRecord>> {
  const found = await rows<MembershipRow>(
    db,
    `${membershipSelect} WHERE m.caucus_id = $1 AND m.device_id = ANY($2::text[])`,
    [caucusId, deviceIds],
  );
  return new Map(found.map((r) => [r.device_id, toMembership(r)]));
}

export async function readMembershipsOf(db: Queryable, deviceId: string): Promise<MembershipRecord[]> {
  return (
    await rows<MembershipRow>(
      db,
      `${membershipSelect} WHERE m.device_id = $1 AND NOT m.removed ORDER BY m.position`,
      [deviceId],
    )
  ).map(toMembership);
}

export async function readMembers(db: Queryable, caucusId: string): Promise<MembershipRecord[]> {
  return (
    await rows<MembershipRow>(db, `${membershipSelect} WHERE m.caucus_id = $1 ORDER BY m.position`, [
      caucusId,
    ])
  ).map(toMembership);
}

export async function readLink(
  db: Queryable,
  linkId: string,
  { lock = false }: { lock?: boolean } = {},
): Promise<MediatorLinkRecord | undefined> {
  const r = await firstRow<LinkRow>(
    db,
    `SELECT link_id, link_public_key, created_by, used FROM mediator_links
     WHERE link_id = $1 ${lock ? "FOR UPDATE" : ""}`,
    [linkId],
  );
  return r && toLink(r);
}

/** The devices of the mediator `deviceId` belongs to, oldest first; [] if it is no mediator device. */
export async function readMediatorDevices(db: Queryable, deviceId: string): Promise<string[]> {
  return (
    await rows<{ device_id: string }>(
      db,
      `SELECT d.device_id FROM mediator_devices me
       JOIN mediator_devices d ON d.mediator_id = me.mediator_id
       WHERE me.device_id = $1 ORDER BY d.position`,
      [deviceId],
    )
  ).map((r) => r.device_id);
}

/**
 * Marks devices removed and deletes their sessions, in one statement. With `partyOnly`, mediator
 * devices among them are left alone (a commit removes a mediator device from one caucus only).
 */
export async function removeDevices(
  db: Queryable,
  deviceIds: readonly string[],
  options: { partyOnly?: boolean } = {},
): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.query(removeDevicesStatement(deviceIds, options));
}

export const removeDevicesStatement = (
  deviceIds: readonly string[],
  { partyOnly = false }: { partyOnly?: boolean } = {},
): Statement => ({
  text: `WITH gone AS (
           UPDATE devices SET removed = true
           WHERE device_id = ANY($1::text[]) AND ($2::boolean IS FALSE OR role = 'party')
           RETURNING device_id)
         DELETE FROM sessions WHERE device_id IN (SELECT device_id FROM gone)`,
  values: [deviceIds, partyOnly],
});
