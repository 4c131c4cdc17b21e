import { ServerError, notFound } from "../errors.js";
import type { InviteRecord, MediatorLinkRecord, MembershipRecord } from "./storage.js";

/**
 * The checks of Storage's invite, link and staff methods, in the order the interface states them,
 * written once for every backend. Each backend reads what they need inside the transaction that
 * then writes.
 */

/** An invite id already taken: a retry of the same creation is fine; anything else is another invite. */
export function checkInviteRetry(
  existing: InviteRecord,
  invite: Omit<InviteRecord, "used" | "revoked">,
): void {
  const same =
    existing.caucusId === invite.caucusId &&
    existing.invitePublicKey === invite.invitePublicKey &&
    existing.expiresAt === invite.expiresAt &&
    !existing.used &&
    !existing.revoked;
  if (!same) throw new ServerError("invite_invalid", "invite id already in use", 409);
}

export function checkRedeemable(invite: InviteRecord | undefined, now: number): asserts invite {
  if (!invite) throw new ServerError("invite_invalid", "unknown invite");
  if (invite.revoked) throw new ServerError("invite_revoked", "the mediator revoked this invite");
  if (invite.expiresAt <= now) throw new ServerError("invite_expired", "this invite has expired");
  if (invite.used) throw new ServerError("invite_used", "invite already used");
}

/** Only a joined, non-removed mediator member of the invite's caucus may revoke it. */
export function checkRevoker(by: MembershipRecord | undefined): void {
  if (!by || by.role !== "mediator" || !by.joined || by.removed) throw notFound();
}

export function checkLinkRetry(existing: MediatorLinkRecord, link: Omit<MediatorLinkRecord, "used">): void {
  const same =
    existing.linkPublicKey === link.linkPublicKey && existing.createdBy === link.createdBy && !existing.used;
  if (!same) throw new ServerError("invite_invalid", "link id already in use", 409);
}

export function checkLinkRedeemable(link: MediatorLinkRecord | undefined): asserts link {
  if (!link) throw unknownLink();
  if (link.used) throw new ServerError("invite_used", "link already used");
}

/** Also the answer when the link's maker is no longer one of the mediator's devices. */
export const unknownLink = (): ServerError => new ServerError("invite_invalid", "unknown link");

/** `byDevices`: the devices of the mediator `byDeviceId` belongs to. */
export function checkStaffRemoval(byDeviceId: string, deviceId: string, byDevices: readonly string[]): void {
  if (byDeviceId === deviceId || !byDevices.includes(deviceId)) throw notFound();
}

/** `joined`: the caucuses the device is still a joined member of. */
export function checkNoLongerMember(joined: number): void {
  if (joined > 0)
    throw new ServerError(
      "still_member",
      `the device is still a member of ${joined} caucus(es): a commit must remove it there first`,
    );
}

export const deviceExists = (): ServerError =>
  new ServerError("device_exists", "device id already registered");
