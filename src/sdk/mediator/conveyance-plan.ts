import type { Attachment, Attribution, ConveyanceMode, EventBody } from "../../protocol/index.js";
import type { FileSource } from "../attachments.js";
import type { TranscriptEntry } from "../device-state.js";
import { checkConveyance, isConveyable, type ReceiptBody } from "../disclosure-policy.js";
import { SdkError } from "../errors.js";
import type { ChannelView } from "./channels.js";

export interface ConveyOptions {
  /** The caucus the signal (or acknowledgement) was said in, and its event id. */
  from: string;
  eventId: string;
  /** Target caucuses; default: every other caucus of the channel. */
  to?: string[];
  mode: ConveyanceMode;
  /** Required for substance (the mediator's paraphrase); must be omitted or exact for verbatim. */
  text?: string;
  /** Default: as the sender allowed (party if allowed, else anonymous). */
  attribution?: Attribution;
  /**
   * Carry the source's attached files, the same bytes re-encrypted for each target caucus. Only
   * what the sender allowed verbatim (disclosure_substance_only, disclosure_mediator_only
   * otherwise). Default: yes for a verbatim conveyance, no for substance.
   */
  sourceFiles?: boolean;
  /** The mediator's own files (with a substance conveyance only: its own words and documents). */
  ownFiles?: readonly FileSource[];
}

type ConveyanceBody = Extract<EventBody, { type: "conveyance" }>;

/**
 * Decides, before anything is sent, exactly what a conveyance says and what its receipt says —
 * or refuses (invariant 3): only a party's signal or acknowledgement; within its disclosure and
 * attribution; not expired; verbatim means the exact words; only into other caucuses of the same
 * channel. Pure, so the console can preview the very same bodies the sdk will send.
 */
export function planConveyance(
  opts: ConveyOptions,
  source: TranscriptEntry | undefined,
  channel: ChannelView,
  now = Date.now(),
): {
  targets: string[];
  conveyance: ConveyanceBody;
  receipt: ReceiptBody;
  sourceFiles: Attachment[];
  deleteAt?: string;
} {
  const body = source?.payload?.body;
  // Burnt (core/burn.ts): its words are gone from this device, so there is nothing to convey.
  if (source?.burnt)
    throw new SdkError(
      "signal_expired",
      source.burnt.reason === "expired"
        ? "this signal has expired and can no longer be conveyed"
        : "this signal was deleted under the channel's retention and can no longer be conveyed",
    );
  if (!source || source.senderRole !== "party" || !isConveyable(body))
    throw new SdkError("source_invalid", "only a party's signal or acknowledgement can be conveyed");
  const attribution: Attribution = opts.attribution ?? body.attribution;
  checkConveyance(body, opts.mode, attribution, now);
  const original = body.text ?? "Received.";
  let text: string;
  if (opts.mode === "verbatim") {
    if (opts.text !== undefined && opts.text !== original)
      throw new SdkError(
        "verbatim_altered",
        "a verbatim conveyance carries the exact words; omit the text or give it unchanged",
      );
    text = original;
  } else {
    if (!opts.text?.trim())
      throw new SdkError(
        "substance_text_required",
        "conveying in substance needs the mediator's own wording",
      );
    text = opts.text.trim();
  }
  const partyName = (caucusId: string) => channel.caucuses.find((c) => c.caucusId === caucusId)?.partyName;
  const targets = opts.to ?? channel.caucuses.map((c) => c.caucusId).filter((id) => id !== opts.from);
  if (!partyName(opts.from) || !targets.length || targets.some((t) => t === opts.from || !partyName(t)))
    throw new SdkError("target_invalid", "conveyances go to other caucuses of the same channel");
  const fromParty = attribution === "party" ? partyName(opts.from) : undefined;
  const sourceFiles = planFiles(opts, body);
  return {
    targets,
    conveyance: {
      type: "conveyance",
      source: body.type,
      mode: opts.mode,
      text,
      ...(body.type === "signal" ? { signalKind: body.signalKind } : {}),
      stance: body.stance,
      ...(fromParty ? { fromParty } : {}),
      ...(body.type === "signal" && body.expiresAt ? { expiresAt: body.expiresAt } : {}),
    },
    receipt: {
      type: "receipt",
      sourceEventId: opts.eventId,
      mode: opts.mode,
      text,
      attributedAs: attribution,
      toParties: targets.map((t) => partyName(t)!),
    },
    // The conveyance expires with its signal, and the relay deletes it when it deletes the signal:
    // only if the sender told the relay (telling it in another caucus would undo the opt-out).
    ...(body.type === "signal" && source.payload?.deleteAt ? { deleteAt: source.payload.deleteAt } : {}),
    sourceFiles,
  };
}

/** The source's files a conveyance carries: only what its sender allowed verbatim (invariant 3). */
function planFiles(opts: ConveyOptions, body: Extract<EventBody, { type: "signal" | "acknowledgement" }>) {
  const files = body.type === "signal" ? (body.attachments ?? []) : [];
  const carry = opts.sourceFiles ?? opts.mode === "verbatim";
  if (carry && files.length && body.disclosure !== "verbatim")
    throw new SdkError(
      "disclosure_substance_only",
      "the sender did not allow its files to be passed on verbatim; attach your own (ownFiles) instead",
    );
  if (opts.ownFiles?.length && opts.mode === "verbatim")
    throw new SdkError("verbatim_altered", "a verbatim conveyance carries the sender's files only");
  return carry ? files : [];
}
