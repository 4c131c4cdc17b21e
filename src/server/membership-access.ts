import { notFound } from "./errors.js";
import type { MembershipRecord, Storage } from "./storage/storage.js";

export interface AccessRule {
  /** Pending (redeemed, not yet welcomed) devices have no access unless this is false. */
  joined?: boolean;
  role?: "mediator";
}

/**
 * The device's membership of the caucus, or the one not_found every other case gets too: no such
 * caucus, not a member, removed, not yet joined. One answer for all, so no id can be probed.
 */
export async function requireMembership(
  storage: Storage,
  caucusId: string,
  deviceId: string,
  rule: AccessRule = {},
): Promise<MembershipRecord> {
  const m = await storage.getMembership(caucusId, deviceId);
  if (!m || m.removed) throw notFound();
  if ((rule.joined ?? true) && !m.joined) throw notFound();
  if (rule.role && m.role !== rule.role) throw notFound();
  return m;
}
