import type Database from "better-sqlite3";
import { registrationTokenInvalid } from "../../registration/registration-token.js";
import {
  registrationTokenColumns,
  toRegistrationTokenInfo,
  type RegistrationTokenRow,
} from "../registration-token-rows.js";
import type { RegistrationTokenInfo, RegistrationTokenRecord } from "../storage.js";
import type { Prepared } from "./statements.js";

/** The registration-token statements, prepared once per connection beside statements.ts's. */
export function prepareTokenStatements(db: Database.Database) {
  const prepare = (sql: string): Prepared => db.prepare(sql);
  return {
    insert: prepare(
      `INSERT INTO registration_tokens (token_id, token_hash, uses, expires_at, note, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    list: prepare(`SELECT ${registrationTokenColumns} FROM registration_tokens ORDER BY rowid`),
    revoke: prepare("UPDATE registration_tokens SET revoked = 1 WHERE token_id = ?"),
    /**
     * The checks and the increment in one statement; the caller's IMMEDIATE transaction holds
     * the write lock, so no other process sharing the file spends the same use.
     */
    spend: prepare(
      `UPDATE registration_tokens SET used = used + 1
       WHERE token_hash = ? AND used < uses AND revoked = 0 AND (expires_at IS NULL OR expires_at > ?)`,
    ),
  };
}
export type TokenStatements = ReturnType<typeof prepareTokenStatements>;

export function insertToken(stmt: TokenStatements, t: RegistrationTokenRecord): void {
  stmt.insert.run(t.tokenId, t.tokenHash, t.uses, t.expiresAt ?? null, t.note ?? null, t.createdAt);
}

export const listTokens = (stmt: TokenStatements): RegistrationTokenInfo[] =>
  (stmt.list.all() as RegistrationTokenRow[]).map(toRegistrationTokenInfo);

export const revokeToken = (stmt: TokenStatements, tokenId: string): boolean =>
  stmt.revoke.run(tokenId).changes === 1;

/** Spends one use, or throws registration_token_invalid (the same for every reason). */
export function spendToken(stmt: TokenStatements, tokenHash: string, now: number): void {
  if (stmt.spend.run(tokenHash, now).changes !== 1) throw registrationTokenInvalid();
}
