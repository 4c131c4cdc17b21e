/**
 * The sdk's public surface (`backchannel/sdk`): devices of both roles, their snapshots, the
 * disclosure policy and its words, live updates, and the errors with their code unions. Runtime
 * adapters live in `backchannel/sdk/node` and `backchannel/sdk/browser`. Stored device state, MLS
 * state and the device core are not part of it.
 */
export { Device, type AttachmentView, type DeviceSnapshot, type VerifyReport } from "./device.js";
export type { FileSource, Progress } from "./attachments.js";
export {
  Mediator,
  type ChannelSnapshot,
  type ChannelView,
  type ConveyOptions,
  type ConveyResult,
  type InviteOptions,
  type InviteResult,
  type MediatorDeviceView,
  type PendingAdmission,
  type MediatorSnapshot,
  type PendingConveyanceView,
} from "./mediator/mediator.js";
export type { ChannelSettings } from "./mediator/retention.js";
export { Party, type AcknowledgementInput, type PartySnapshot, type SignalInput } from "./party.js";
export { openDevice } from "./open-device.js";
export type { CaucusView, HandlerView, RosterMediatorDevice } from "./core/caucus.js";
export type { Head, TranscriptEntry } from "./device-state.js";
export { planConveyance } from "./mediator/conveyance-plan.js";
export {
  acknowledgementDefaults,
  allowedModes,
  attributedAsWords,
  attributionChoices,
  attributionChoiceWords,
  attributionWords,
  breachWords,
  checkConveyance,
  conveyability,
  conveyanceModeChoices,
  disclosureChoices,
  disclosureDefaults,
  disclosureChoiceWords,
  disclosureWords,
  isConveyable,
  isExpired,
  modeChoiceWords,
  modeWords,
  notConveyedWords,
  receiptVerdict,
  receiptWords,
  signalDefaults,
  signalKindWords,
  skippedWords,
  burntWords,
  verdictWords,
  type Breach,
  type Conveyability,
  type ConveyableBody,
  type ReceiptBody,
  type ReceiptVerdict,
} from "./disclosure-policy.js";
export { entryViews, findEntry, type EntryView, type ReceiptView } from "./views.js";
export { caucusUnderstanding } from "./understanding.js";
export type { CaucusUnderstanding, UnderstandingStatus } from "./understanding.js";
export { watch, type WatchHandle } from "./watch.js";
export { decodeInviteCode, type InviteCode } from "./invite-code.js";
export { isShortCode, normalizeShortCode } from "./short-invite.js";
export { MemoryStateStore, type StateStore } from "./state-store.js";
export { readState as readDeviceState } from "./state-parts.js";
export type { AuthKeyPair, HttpTransport, Platform } from "./platform.js";
export {
  ApiError,
  SdkError,
  TransportError,
  type BackchannelErrorCode,
  type BrowserSupportErrorCode,
  type SdkErrorCode,
  type TransportErrorCode,
} from "./errors.js";
export { BackchannelError } from "../protocol/index.js";
export type { GroupErrorCode } from "../crypto/mls/caucus-group.js";
export type { KeystoreErrorCode } from "../crypto/keystore-error.js";
