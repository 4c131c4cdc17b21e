import { BackchannelError } from "../protocol/index.js";

/** The server answered with a typed error (`code` is the wire `error` field). */
export class ApiError extends BackchannelError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }

  /** Worth retrying the same request later (the request itself was fine). */
  shouldRetry(): boolean {
    return this.status >= 500 || this.code === "rate_limited";
  }
}

/** The server could not be reached or answered with something that is not our protocol. */
export class TransportError extends BackchannelError {
  shouldRetry(): boolean {
    return true;
  }
}

/** Something the sdk refuses to do (disclosure, roster, broken transcript, wrong role…). */
export class SdkError extends BackchannelError {}
