import { BackchannelError, type ErrorCode } from "../protocol/index.js";
import type { GroupErrorCode } from "../crypto/mls/caucus-group.js";
import type { KeystoreErrorCode } from "../crypto/keystore-error.js";

/** The server answered with a typed error (`code` is the wire `error` field). */
export class ApiError extends BackchannelError {
  /**
   * One of the relay's codes. A newer relay may send a code this client does not know yet: it is
   * kept as sent, and renderers fall back to the message for it.
   */
  declare readonly code: ErrorCode;

  constructor(
    code: string,
    message: string,
    readonly status: number,
    /** rate_limited: seconds the relay asked to wait before the same request (its retry_after). */
    readonly retryAfter?: number,
  ) {
    super(code, message);
  }

  /** Worth retrying the same request later (the request itself was fine). */
  shouldRetry(): boolean {
    return this.status >= 500 || this.code === "rate_limited";
  }
}

export type TransportErrorCode = "server_unreachable" | "bad_response";

/** The server could not be reached or answered with something that is not our protocol. */
export class TransportError extends BackchannelError {
  declare readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  shouldRetry(): boolean {
    return true;
  }
}

export type SdkErrorCode =
  // what this device knows
  | "caucus_unknown"
  | "channel_unknown"
  | "conveyance_unknown"
  | "understanding_unknown"
  | "member_unknown"
  | "wrong_role"
  // codes handed over out of band
  | "invite_code_invalid"
  | "short_code_server_required"
  | "invite_expired"
  | "invite_unknown"
  | "invite_ttl_invalid"
  | "link_code_invalid"
  // membership
  | "not_joined"
  | "removed"
  | "admission_unknown"
  | "cannot_remove_self"
  | "removal_incomplete"
  // transcript
  | "transcript_broken"
  | "send_unconfirmed"
  // channels
  | "parties_too_few"
  | "parties_invalid"
  | "topic_invalid"
  // conveyance (the disclosure policy, invariant 3)
  | "source_invalid"
  | "target_invalid"
  | "signal_expired"
  | "verbatim_altered"
  | "substance_text_required"
  | "disclosure_mediator_only"
  | "disclosure_substance_only"
  | "attribution_anonymous"
  // attachments (issue 12): a blob that does not verify, a file that changed while it was read
  | "attachment_invalid";

/** Something the sdk refuses to do (disclosure, roster, broken transcript, wrong role…). */
export class SdkError extends BackchannelError {
  declare readonly code: SdkErrorCode;

  constructor(code: SdkErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Codes a browser can fail with before anything else runs (see sdk/browser.ts). */
export type BrowserSupportErrorCode = "insecure_context";

/**
 * Every code an sdk user can meet, whichever layer raised it: the relay's, the transport's, the
 * sdk's own, the MLS layer's and the keystores'. A `Record<BackchannelErrorCode, …>` of messages
 * is complete at compile time.
 */
export type BackchannelErrorCode =
  | ErrorCode
  | TransportErrorCode
  | SdkErrorCode
  | GroupErrorCode
  | KeystoreErrorCode
  | BrowserSupportErrorCode;
