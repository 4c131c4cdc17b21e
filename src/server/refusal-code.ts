import type { FastifyRequest, onSendHookHandler } from "fastify";
import { errorCodes, type ErrorCode } from "../protocol/index.js";

/**
 * The stable code of each refusal, for the request's log line and the refusal counter. Refusals
 * are made in many places (routes, the error handler, the not-found handler, framework errors),
 * but every one goes out as `{ error, message }`, so the one place to read the code is the body
 * on its way out.
 */
const codes = new WeakMap<FastifyRequest, ErrorCode>();

const known: ReadonlySet<string> = new Set(errorCodes);

/** onSend hook: remembers the code of a 4xx or 5xx answer. */
export const rememberRefusalCode: onSendHookHandler = (request, reply, payload, done) => {
  if (reply.statusCode >= 400 && typeof payload === "string") {
    const code = codeIn(payload);
    if (code) codes.set(request, code);
  }
  done(null, payload);
};

/** The stable code the request was refused with, if it was. */
export const refusalCodeOf = (request: FastifyRequest): ErrorCode | undefined => codes.get(request);

/** Only codes of the protocol's set: a label of the refusal counter must stay a small, fixed set. */
function codeIn(body: string): ErrorCode | undefined {
  try {
    const { error } = JSON.parse(body) as { error?: unknown };
    return typeof error === "string" && known.has(error) ? (error as ErrorCode) : undefined;
  } catch {
    return undefined;
  }
}
