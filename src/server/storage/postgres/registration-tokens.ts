import type { PoolClient } from "pg";
import { registrationTokenInvalid } from "../../registration/registration-token.js";
import {
  registrationTokenColumns,
  toRegistrationTokenInfo,
  type RegistrationTokenRow,
} from "../registration-token-rows.js";
import type { RegistrationTokenInfo, RegistrationTokenRecord } from "../storage.js";
import { changed, rows, type Queryable } from "./transaction.js";

export async function insertToken(db: Queryable, t: RegistrationTokenRecord): Promise<void> {
  await db.query(
    `INSERT INTO registration_tokens (token_id, token_hash, uses, expires_at, note, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [t.tokenId, t.tokenHash, t.uses, t.expiresAt ?? null, t.note ?? null, t.createdAt],
  );
}

export const listTokens = async (db: Queryable): Promise<RegistrationTokenInfo[]> =>
  (
    await rows<RegistrationTokenRow>(
      db,
      `SELECT ${registrationTokenColumns} FROM registration_tokens ORDER BY position`,
    )
  ).map(toRegistrationTokenInfo);

export const revokeToken = async (db: Queryable, tokenId: string): Promise<boolean> =>
  (await changed(db, "UPDATE registration_tokens SET revoked = true WHERE token_id = $1", [tokenId])) === 1;

/**
 * Spends one use, or throws registration_token_invalid (the same for every reason). The checks
 * and the increment are one UPDATE: a concurrent one on the same row, from any node, waits for
 * this transaction to end, then checks its WHERE again against the row as this one left it
 * (READ COMMITTED), so the last use goes to exactly one of them. The row lock is held until the
 * device is inserted and the transaction commits; a refused device rolls the use back.
 */
export async function spendToken(db: PoolClient, tokenHash: string, now: number): Promise<void> {
  const spent = await changed(
    db,
    `UPDATE registration_tokens SET used = used + 1
     WHERE token_hash = $1 AND used < uses AND NOT revoked AND (expires_at IS NULL OR expires_at > $2)`,
    [tokenHash, now],
  );
  if (spent !== 1) throw registrationTokenInvalid();
}
