import { Option } from "@commander-js/extra-typings";
import { attribution, signalKind, type Attribution, type Disclosure } from "../protocol/index.js";
import { conveyanceModeChoices, disclosureChoices } from "../sdk/index.js";

/*
 * The CLI's words for disclosure, attribution, conveyance modes and signal kinds are the
 * protocol's own enums, listed by the sdk's disclosure policy: `.choices()` checks them, the help
 * lists them, and a value added to the protocol appears here without a second list to forget.
 * Defaults come from the policy too (disclosureDefaults, the same for a signal and an acknowledgement).
 */

export const signalKindOption = () =>
  new Option("--kind <kind>", "kind of signal")
    .choices(signalKind.options)
    .default(signalKind.enum.notification_of_intent);

export const disclosureOption = (fallback: Disclosure) =>
  new Option("--disclosure <disclosure>", "what the mediator may do with it")
    .choices(disclosureChoices)
    .default(fallback);

export const conveyanceModeOption = () =>
  new Option("--mode <mode>", "how to convey it").choices(conveyanceModeChoices).makeOptionMandatory();

/** Attribution on the command line is one flag, `--anonymous`; without it the party is named. */
export const attributionOf = (anonymous: boolean | undefined): Attribution =>
  anonymous ? attribution.enum.anonymous : attribution.enum.party;
