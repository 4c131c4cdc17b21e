/**
 * Stable error codes. They go on the wire as `{ "error": code, "message": "…" }` and are what
 * callers branch on; messages are for people and may change.
 */
export const errorCodes = [
  "invalid_request",
  "invalid_json",
  "payload_too_large",
  "unauthenticated",
  "token_expired",
  "challenge_invalid",
  "signature_invalid",
  "forbidden",
  "registration_closed",
  "registration_token_invalid",
  "not_found",
  "device_exists",
  "invite_used",
  "invite_invalid",
  "invite_expired",
  "invite_revoked",
  "device_removed",
  "epoch_conflict",
  "stale_epoch",
  "head_moved",
  "event_id_conflict",
  "not_member",
  "still_member",
  "rate_limited",
  "unavailable",
  "quota_exceeded",
  "channel_closed",
  "delete_at_invalid",
  "internal",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface WireError {
  error: ErrorCode;
  message: string;
  /** rate_limited only: seconds to wait before asking again (also the Retry-After header). */
  retry_after?: number;
}

/** Base of every error our packages throw on purpose; `code` is stable. */
export class BackchannelError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input did not match the shared schema. `issues` lists every failing path. */
export class ValidationError extends BackchannelError {
  readonly issues: readonly string[];
  constructor(what: string, issues: readonly string[]) {
    super("invalid_request", `${what}: ${issues.join("; ")}`);
    this.issues = issues;
  }
}
