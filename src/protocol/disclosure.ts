import { BackchannelError } from "./errors.js";
import type { Attribution, ConveyanceMode, Disclosure } from "./events.js";

export class DisclosureError extends BackchannelError {}

/**
 * Invariant 3: a mediator-only signal is never conveyed; a substance-only signal is never conveyed
 * verbatim; an anonymous signal is never attributed. Both the sdk (before it sends) and every
 * renderer use this one rule.
 */
export function checkConveyance(
  disclosure: Disclosure,
  mode: ConveyanceMode,
  sourceAttribution: Attribution,
  requestedAttribution: Attribution,
): void {
  if (disclosure === "mediator_only")
    throw new DisclosureError(
      "disclosure_mediator_only",
      "this signal is for the mediator only and cannot be conveyed",
    );
  if (disclosure === "substance" && mode === "verbatim")
    throw new DisclosureError(
      "disclosure_substance_only",
      "the sender allowed this signal to be conveyed in substance only, not verbatim",
    );
  if (sourceAttribution === "anonymous" && requestedAttribution === "party")
    throw new DisclosureError(
      "attribution_anonymous",
      "the sender asked not to be named; convey it as from 'a party'",
    );
}

export function allowedModes(disclosure: Disclosure): ConveyanceMode[] {
  if (disclosure === "mediator_only") return [];
  if (disclosure === "substance") return ["substance"];
  return ["verbatim", "substance"];
}
