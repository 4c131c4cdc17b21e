import { Option, type Command } from "commander";
import { stanceTerms, type Stance } from "../protocol/index.js";

/** --commitment, --coordination, … each "none" unless the sender states its own words. */
export function addStanceOptions(cmd: Command): Command {
  for (const term of stanceTerms)
    cmd.addOption(
      new Option(`--${term} <words>`, `what is offered on ${term}, in your words`).default("none"),
    );
  return cmd;
}

export function stanceFrom(opts: Record<string, unknown>): Stance {
  const out = {} as Stance;
  for (const term of stanceTerms)
    out[term] = typeof opts[term] === "string" && opts[term].trim() ? opts[term].trim() : "none";
  return out;
}
