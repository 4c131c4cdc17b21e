import { ServerError } from "../errors.js";

/** A second short invite under a lookup id already kept (a 100-bit code drawn twice: a bug). */
export const shortInviteTaken = (): ServerError =>
  new ServerError("invalid_request", "a short invite with this lookup id exists", 409);
