import { z } from "zod";
import {
  caucusId,
  ed25519PublicKey,
  ed25519Signature,
  fromBase64Url,
  fromUtf8,
  inviteId,
  parse,
  toBase64Url,
  utf8,
  canonicalJson,
} from "../protocol/index.js";
import { SdkError } from "./errors.js";

/**
 * What the mediator hands a party's designated handler out of band. It carries a one-time invite
 * key (only this code can redeem the invite), the mediator's certificate for it, and the
 * mediator's identity key, which the handler's device pins: every roster check chains to it.
 */
export const inviteCodeSchema = z.strictObject({
  v: z.literal(1),
  server: z.string().url(),
  caucusId,
  inviteId,
  /** base64url Ed25519 seed of the one-time invite key */
  inviteSecret: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  inviteKey: ed25519PublicKey,
  inviteCert: ed25519Signature,
  mediatorKey: ed25519PublicKey,
  /**
   * When the invite stops working, so the handler's device can say so without asking. Not signed:
   * the relay and the mediator's device enforce the expiry; this is only for the handler's eyes.
   */
  expiresAt: z.iso.datetime().optional(),
});
export type InviteCode = z.infer<typeof inviteCodeSchema>;

const PREFIX = "bc1-";

export function encodeInviteCode(code: InviteCode): string {
  return PREFIX + toBase64Url(utf8(canonicalJson({ ...code })));
}

export function decodeInviteCode(text: string): InviteCode {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX))
    throw new SdkError("invite_code_invalid", "not a Backchannel invite code (it starts with bc1-)");
  try {
    return parse(
      inviteCodeSchema,
      JSON.parse(fromUtf8(fromBase64Url(trimmed.slice(PREFIX.length)))),
      "invite code",
    );
  } catch (cause) {
    throw new SdkError("invite_code_invalid", "the invite code is damaged or incomplete", { cause });
  }
}
