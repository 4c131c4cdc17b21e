import {
  BackchannelError,
  limits,
  ValidationError,
  type ErrorCode,
  type WireError,
} from "../protocol/index.js";

/** The HTTP status each stable code normally travels with; a throw site may override it. */
const defaultStatus: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  payload_too_large: 413,
  unauthenticated: 401,
  token_expired: 401,
  challenge_invalid: 401,
  signature_invalid: 401,
  forbidden: 403,
  registration_closed: 403,
  registration_token_invalid: 403,
  not_found: 404,
  device_exists: 409,
  invite_used: 409,
  invite_invalid: 404,
  invite_expired: 410,
  invite_revoked: 410,
  device_removed: 403,
  epoch_conflict: 409,
  head_moved: 409,
  stale_epoch: 409,
  event_id_conflict: 409,
  not_member: 404,
  still_member: 409,
  rate_limited: 429,
  unavailable: 503,
  quota_exceeded: 413,
  channel_closed: 409,
  delete_at_invalid: 400,
  internal: 500,
};

/** A rejection the relay means to make: its code and message go on the wire as they are. */
export class ServerError extends BackchannelError {
  declare readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, status: number = defaultStatus[code]) {
    super(code, message);
    this.status = status;
  }
}

/** A 429: the body's `retry_after` and the Retry-After header say when to ask again. */
export class RateLimitedError extends ServerError {
  /** Whole seconds, at least 1. */
  readonly retryAfter: number;
  constructor(message: string, retryAfterMs: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super("rate_limited", `${message}; try again in ${retryAfter} s`);
    this.retryAfter = retryAfter;
  }
}

/**
 * One body for "no such caucus/channel" and "not yours": if they differed, any device could probe
 * which ids exist (an existence oracle that would let a party count the other side's caucuses).
 */
export const notFound = (): ServerError => new ServerError("not_found", "not found");

export const channelClosed = (): ServerError =>
  new ServerError("channel_closed", "the mediator closed this channel");

export const forbidden = (message = "mediator devices only"): ServerError =>
  new ServerError("forbidden", message);

/** Fastify's own errors, mapped onto our codes. Anything unknown becomes a 500 with no internals. */
function fromFramework(error: { code?: unknown; statusCode?: unknown }): ServerError | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ServerError("invalid_json", "request body is not valid JSON");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ServerError(
        "payload_too_large",
        `the relay refused the request: its body is over the relay's limit of ${limits.bodyBytes} bytes (1 MiB)`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ServerError("invalid_request", "content-type must be application/json", 415);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ServerError("invalid_request", "request body size does not match content-length");
  }
  // Other framework 4xx (bad URL, bad header): the client's fault, with no detail worth echoing.
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    if (error.statusCode === 413) return new ServerError("payload_too_large", "request is too large");
    return new ServerError("invalid_request", "malformed request", error.statusCode);
  }
  return undefined;
}

export interface HttpError {
  status: number;
  body: WireError;
}

/** Turns anything thrown while handling a request into the status and body the client sees. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof RateLimitedError) {
    return {
      status: error.status,
      body: { error: error.code, message: error.message, retry_after: error.retryAfter },
    };
  }
  if (error instanceof ServerError) {
    return { status: error.status, body: { error: error.code, message: error.message } };
  }
  if (error instanceof ValidationError) {
    return { status: 400, body: { error: "invalid_request", message: error.message } };
  }
  if (error !== null && typeof error === "object") {
    const mapped = fromFramework(error);
    if (mapped) return toHttpError(mapped);
  }
  return { status: 500, body: { error: "internal", message: "internal error" } };
}
