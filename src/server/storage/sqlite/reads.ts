import type {
  CaucusRecord,
  ChannelRecord,
  InviteRecord,
  MediatorLinkRecord,
  MembershipRecord,
  StoredDevice,
} from "../storage.js";
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
import type { Statements } from "./statements.js";

/** Synchronous reads, shared by the storage methods and the append transaction (row shapes: ../rows.ts). */

export function readDevice(stmt: Statements, deviceId: string): StoredDevice | undefined {
  const r = stmt.getDevice.get(deviceId) as DeviceRow | undefined;
  return r && toDevice(r);
}

export function readChannel(stmt: Statements, channelId: string): ChannelRecord | undefined {
  const settings = stmt.channelSettings.get(channelId) as
    { retention_days: number | null; delete_at: number | null } | undefined;
  if (!settings) return undefined;
  return {
    channelId,
    ...(settings.retention_days !== null ? { retentionDays: settings.retention_days } : {}),
    ...(settings.delete_at !== null ? { deleteAt: settings.delete_at } : {}),
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
  const r = stmt.getInvite.get(inviteId) as InviteRow | undefined;
  return r && toInvite(r);
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
  const r = stmt.getLink.get(linkId) as LinkRow | undefined;
  return r && toLink(r);
}

/** The devices of the mediator `deviceId` belongs to, oldest first; [] if it is no mediator device. */
export function readMediatorDevices(stmt: Statements, deviceId: string): string[] {
  const r = stmt.mediatorOf.get(deviceId) as { mediator_id: string } | undefined;
  if (!r) return [];
  return (stmt.devicesOfMediator.all(r.mediator_id) as { device_id: string }[]).map((x) => x.device_id);
}
