import { Option, type Command, type OptionValues } from "@commander-js/extra-typings";
import { stanceTerms, type Stance, type StanceTerm } from "../protocol/index.js";

/** --commitment, --coordination, … each "none" unless the sender states its own words. */
export function addStanceOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(cmd: Command<Args, Opts, Globals>): Command<Args, Opts & Record<StanceTerm, string>, Globals> {
  for (const term of stanceTerms)
    cmd.addOption(
      new Option(`--${term} <words>`, `what is offered on ${term}, in your words`).default("none"),
    );
  // The options are added in a loop over the one list of terms, which the typings cannot follow.
  return cmd as Command<Args, Opts & Record<StanceTerm, string>, Globals>;
}

export function stanceFrom(opts: Record<StanceTerm, string>): Stance {
  const out = {} as Stance;
  for (const term of stanceTerms) out[term] = opts[term].trim() || "none";
  return out;
}
