import { Option } from "@commander-js/extra-typings";
import {
  attribution,
  conveyanceMode,
  disclosure,
  signalKind,
  type Attribution,
  type Disclosure,
} from "../protocol/index.js";

/*
 * The CLI's words for disclosure, attribution, conveyance modes and signal kinds are the
 * protocol's own enums: `.choices()` checks them, the help lists them, and a value added to the
 * protocol appears here without a second list to forget.
 */

export const signalKindOption = () =>
  new Option("--kind <kind>", "kind of signal")
    .choices(signalKind.options)
    .default(signalKind.enum.notification_of_intent);

export const disclosureOption = (fallback: Disclosure) =>
  new Option("--disclosure <disclosure>", "what the mediator may do with it")
    .choices(disclosure.options)
    .default(fallback);

export const conveyanceModeOption = () =>
  new Option("--mode <mode>", "how to convey it").choices(conveyanceMode.options).makeOptionMandatory();

/** Attribution on the command line is one flag, `--anonymous`; without it the party is named. */
export const attributionOf = (anonymous: boolean | undefined): Attribution =>
  anonymous ? attribution.enum.anonymous : attribution.enum.party;
