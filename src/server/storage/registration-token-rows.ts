import type { RegistrationTokenInfo } from "./storage.js";

/** A registration_tokens row as both backends read it (SQLite's revoked is 0/1, PostgreSQL's a boolean). */
export interface RegistrationTokenRow {
  token_id: string;
  uses: number;
  used: number;
  expires_at: number | null;
  note: string | null;
  created_at: number;
  revoked: number | boolean;
}

/** The columns a list reads: never token_hash. */
export const registrationTokenColumns = "token_id, uses, used, expires_at, note, created_at, revoked";

export function toRegistrationTokenInfo(r: RegistrationTokenRow): RegistrationTokenInfo {
  return {
    tokenId: r.token_id,
    uses: r.uses,
    used: r.used,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
    ...(r.note === null ? {} : { note: r.note }),
    createdAt: r.created_at,
    revoked: Boolean(r.revoked),
  };
}
