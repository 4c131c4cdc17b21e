import { z } from "zod";
import {
  canonicalJson,
  ed25519PublicKey,
  fromBase64Url,
  fromUtf8,
  linkId,
  parse,
  toBase64Url,
  utf8,
} from "../protocol/index.js";
import { identityPublicKey } from "../crypto/identity.js";
import { SdkError } from "./errors.js";

const seed = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

/**
 * What one of the mediator's devices hands a new device of the same mediator (staff), out of band.
 * It carries a one-time link key (only this code can redeem the link) and the mediator's identity
 * key pair: the mediator is one trusted side, and its identity key is what parties pin, so every
 * device of the mediator holds it. Treat the code like the mediator's key itself: show it once,
 * to the person setting up the new device, over a channel you trust.
 */
export const linkCodeSchema = z.strictObject({
  v: z.literal(1),
  server: z.string().url(),
  linkId,
  /** base64url Ed25519 seed of the one-time link key */
  linkSecret: seed,
  /** base64url Ed25519 seed of the mediator's identity key */
  mediatorSecret: seed,
  mediatorKey: ed25519PublicKey,
  mediatorName: z.string().trim().min(1).max(200),
});
export type LinkCode = z.infer<typeof linkCodeSchema>;

const PREFIX = "bc1m-";

export function encodeLinkCode(code: LinkCode): string {
  return PREFIX + toBase64Url(utf8(canonicalJson({ ...code })));
}

export function decodeLinkCode(text: string): LinkCode {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX))
    throw new SdkError("link_code_invalid", "not a Backchannel mediator link code (it starts with bc1m-)");
  let code: LinkCode;
  try {
    code = parse(
      linkCodeSchema,
      JSON.parse(fromUtf8(fromBase64Url(trimmed.slice(PREFIX.length)))),
      "link code",
    );
  } catch (cause) {
    throw new SdkError("link_code_invalid", "the link code is damaged or incomplete", { cause });
  }
  if (toBase64Url(identityPublicKey(fromBase64Url(code.mediatorSecret))) !== code.mediatorKey)
    throw new SdkError("link_code_invalid", "the link code's mediator key does not match its secret");
  return code;
}
