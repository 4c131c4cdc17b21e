// Not through the sdk's index: the first screen loads without the sdk (device-sdk.ts).
import { BackchannelError } from "../../protocol/errors.js";
import type { BackchannelErrorCode } from "../../sdk/index.js";

/**
 * Every error code a user can meet, as a sentence: the type makes the list complete at compile
 * time. A code this console does not know (a newer relay's) falls back to the error's message.
 */
const sentences: Record<BackchannelErrorCode, string> = {
  invalid_request: "The server refused a malformed request. Please reload and try again.",
  invalid_json: "The server could not read the request. Please reload and try again.",
  payload_too_large: "That is too long to send. Shorten the text and try again.",
  unauthenticated:
    "This device could not log in to the server. Reload the page; if it persists, the device may have been removed.",
  token_expired: "The session expired. Please try again.",
  challenge_invalid: "Logging in failed (the login challenge expired). Please try again.",
  signature_invalid: "The server refused this device's signature.",
  forbidden: "This device is not allowed to do that.",
  registration_closed:
    "This relay registers mediators only with a registration token. Ask the relay's operator for one and enter it in the form.",
  registration_token_invalid:
    "That registration token is not valid on this relay (unknown, used up, revoked or expired). Ask the relay's operator for a new one.",
  not_found: "Not found, or this device has no access to it.",
  device_exists: "A device with this id already exists. Reload and try again.",
  invite_used: "This invite code has already been used. Ask the mediator for a new one.",
  invite_invalid: "This invite code is not valid on this server.",
  invite_expired: "This invite code has expired. Ask the mediator for a new one.",
  invite_revoked: "The mediator revoked this invite code. Ask the mediator for a new one.",
  invite_unknown: "This device did not make that invite (only the device that made it can revoke it).",
  invite_ttl_invalid: "An invite must expire within 30 days.",
  admission_unknown:
    "That device is not waiting for admission on this device (it was admitted, revoked or expired meanwhile).",
  device_removed: "This device was removed by the mediator: it can no longer log in to the server.",
  still_member: "That device is still a member of a caucus; remove it from every caucus first.",
  cannot_remove_self: "A device cannot remove itself; remove it from another of the mediator's devices.",
  removal_incomplete: "The device was removed from some caucuses but not all. Try again.",
  link_code_invalid: "That is not a complete mediator link code (it starts with bc1m-).",
  invite_code_invalid:
    "That is not a complete Backchannel invite code (a long one starts with bc1-, a short one is 20 letters and digits).",
  short_code_server_required: "A short invite code works only with the server's address: give it too.",
  epoch_conflict: "Someone changed the caucus at the same moment. Please try again.",
  head_moved: "The caucus changed while adding a device. Please try again.",
  stale_epoch: "The caucus changed while sending. Please try again.",
  event_id_conflict: "That event id is already taken.",
  not_member: "This device is not a member of that caucus.",
  rate_limited: "Too many requests. Wait a moment and try again.",
  unavailable: "The server is restarting or cannot reach its database. Try again in a moment.",
  quota_exceeded:
    "This caucus or channel has used all the storage the relay allows it. Ask the relay's operator to raise the quota.",
  channel_closed: "The mediator closed this channel: nothing more can be sent in it.",
  delete_at_invalid:
    "The relay refused the message's deletion time (it has passed, or is malformed). Check the expiry and send again.",
  internal: "The server had an internal error. Try again later.",
  server_unreachable: "The server cannot be reached. Check the connection; the console reconnects by itself.",
  bad_response: "The server answered with something unexpected.",
  disclosure_mediator_only: "The sender marked this for the mediator only: it cannot be conveyed.",
  disclosure_substance_only: "The sender allowed this to be conveyed in substance only, not verbatim.",
  attribution_anonymous: "The sender asked not to be named: it can only be conveyed as from “a party”.",
  attachment_invalid:
    "An attachment did not verify (altered, cut short, or not the file its sender named): it was not saved.",
  verbatim_altered: "A verbatim conveyance must carry the exact words.",
  substance_text_required: "Write how you will convey it in substance.",
  signal_expired: "This signal has expired and can no longer be conveyed.",
  source_invalid: "Only a party's signal or acknowledgement can be conveyed.",
  target_invalid: "Choose at least one other party to convey it to.",
  transcript_broken: "This caucus's transcript failed verification, so sending is disabled.",
  removed: "This device was removed from the caucus.",
  not_joined: "The mediator has not admitted this device yet.",
  roster_untrusted: "The caucus holds a device that could not be certified. Nothing was sent.",
  group_state_invalid: "This device's stored state for the caucus cannot be read. Nothing was changed.",
  key_package_invalid: "A device's keys could not be read, so it was not admitted.",
  message_invalid: "A message in this caucus could not be read.",
  message_rejected: "A message in this caucus was refused: it does not come from a certified member.",
  sender_unknown: "A message came from a device that is not a member of this caucus.",
  anchor_unverified:
    "The relay tried to start this device later in the caucus than the mediator said, so it did not join.",
  welcome_invalid: "The invitation to join the caucus could not be trusted, so this device did not join it.",
  caucus_unknown: "This device is not in that caucus.",
  channel_unknown: "This device does not know that channel.",
  wrong_role: "This device belongs to the other role (mediator or party handler).",
  send_unconfirmed:
    "The server took the message but it did not appear in the transcript. Check the transcript.",
  keystore_passphrase: "The passphrase does not open this device's keystore.",
  keystore_exists: "A device is already stored here; it was not overwritten.",
  passphrase_weak: "Choose a longer passphrase (at least 8 characters). Nothing was created.",
  parties_too_few: "A channel needs at least two parties.",
  parties_invalid: "Party names must be non-empty and different from each other.",
  topic_invalid: "A channel needs a topic.",
  conveyance_unknown: "That conveyance is not in this caucus.",
  understanding_unknown: "That understanding was not proposed in this caucus.",
  member_unknown: "That device is not a handler in this caucus.",
  keystore_missing: "No device is stored in this browser yet.",
  keystore_corrupt: "The device stored in this browser cannot be read (it was damaged or its key is gone).",
  keystore_unavailable:
    "This browser does not let the console store its keys (IndexedDB is blocked or unavailable).",
  insecure_context:
    "The console needs https (or localhost): without it the browser offers no WebCrypto to keep keys safe.",
};

export function errorText(e: unknown): string {
  if (e instanceof BackchannelError)
    return Object.hasOwn(sentences, e.code) ? sentences[e.code as BackchannelErrorCode] : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export const knownErrorCodes = Object.keys(sentences);
