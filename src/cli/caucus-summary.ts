import pc from "picocolors";
import { describeProblem } from "../protocol/index.js";
import { Mediator, type Device } from "../sdk/index.js";
import { CliError } from "./context.js";

/** A caucus as its device sees it: the heading of `inbox` and `verify`. */
export function caucusTitle(d: Device, caucusId: string): string {
  const r = d.caucus(caucusId);
  const title =
    d instanceof Mediator
      ? `${r.partyName ?? "?"} — caucus ${caucusId} (“${r.topic ?? ""}”)`
      : `your caucus with ${r.mediatorName ?? "the mediator"}${r.topic ? ` — “${r.topic}”` : ""}${r.partyName ? ` — you speak for ${r.partyName}` : ""}`;
  if (r.removed)
    return `${title} ${pc.red("— this device was removed from the caucus; it can read nothing sent since")}`;
  if (r.closed) return `${title} ${pc.dim("— closed by the mediator: nothing more can be sent")}`;
  if (r.quietSince)
    return `${title} ${pc.yellow(`— no word from the mediator since ${r.quietSince}: the relay may be withholding newer events from this device, or the mediator is offline`)}`;
  if (r.accessRefused)
    return `${title} ${pc.yellow(`— the relay refuses this device the caucus (${r.accessRefused}) without the mediator's word that it was removed; it keeps its keys and tries again`)}`;
  return title;
}

/** A caucus in `inbox --json` and `export`: its head, and its transcript problem in words if any. */
export function caucusSummary(d: Device, caucusId: string) {
  const r = d.caucus(caucusId);
  return {
    caucusId,
    partyName: r.partyName,
    topic: r.topic,
    head: r.head,
    verified: !r.problem,
    ...(r.removed ? { removed: true } : {}),
    ...(r.accessRefused ? { accessRefused: r.accessRefused } : {}),
    ...(r.quietSince ? { quietSince: r.quietSince } : {}),
    ...(r.closed ? { closed: true } : {}),
    ...(r.problem ? { problem: r.problem, problemText: describeProblem(r.problem) } : {}),
  };
}

/** Exit status 3, the same for `inbox` and `verify`: a transcript did not verify. */
export const transcriptProblem = (): CliError =>
  new CliError("transcript_problem", "a transcript failed verification", 3);
