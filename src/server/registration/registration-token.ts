import { createHash, randomBytes } from "node:crypto";
import { ServerError } from "../errors.js";

/**
 * Closed registration (issue 10): a mediator device registers only with a token the relay's
 * operator made. The rules about tokens live here once; the CLI and the relay only use them.
 */

/** Marks a string as a registration token (greppable in logs and support mail, never a secret's shape). */
export const registrationTokenPrefix = "bcr1-";

export interface NewRegistrationToken {
  /** Shown once, to the operator: the relay keeps only `tokenHash`. */
  token: string;
  tokenHash: string;
  /** Public handle for list and revoke. */
  tokenId: string;
}

/** 256 random bits (brief: at least 128), and an id that is not derived from them. */
export function newRegistrationToken(): NewRegistrationToken {
  const token = registrationTokenPrefix + randomBytes(32).toString("base64url");
  return { token, tokenHash: hashRegistrationToken(token), tokenId: randomBytes(6).toString("hex") };
}

/**
 * SHA-256, hex, as sessions store their bearer tokens. A plain hash suffices (no salt, no slow
 * KDF): the token is 256 random bits, so nothing can be guessed from the hash.
 */
export const hashRegistrationToken = (token: string): string =>
  createHash("sha256").update(token, "utf8").digest("hex");

const askTheOperator = "ask the relay's operator for a registration token";

/** No token, on a relay that requires one. */
export const registrationClosed = (): ServerError =>
  new ServerError(
    "registration_closed",
    `this relay registers mediators only with a registration token: ${askTheOperator}`,
  );

/**
 * Unknown, used up, revoked or expired: one answer for all four, so that trying tokens tells a
 * stranger nothing about which ones exist or were ever made.
 */
export const registrationTokenInvalid = (): ServerError =>
  new ServerError(
    "registration_token_invalid",
    `this registration token is not valid on this relay (unknown, used up, revoked or expired): ${askTheOperator}`,
  );
