import pc from "picocolors";
import { Mediator, Party } from "../../sdk/index.js";
import { caucusSummary, caucusTitle, transcriptProblem } from "../caucus-summary.js";
import {
  openDevice,
  output,
  outputFailure,
  removedFromAll,
  selectedCaucuses,
  unlessRemoved,
} from "../context.js";
import type { Program } from "../global-options.js";
import { renderTranscript } from "../render.js";

export function registerInboxCommand(program: Program): void {
  program
    .command("inbox")
    .alias("sync")
    .description(
      "fetch, verify and show the transcript of each caucus (the mediator also admits its own new devices and handlers invited with --no-confirm, and lists those waiting for admission); exits 3 on a transcript problem",
    )
    .option("--caucus <id or party>", "only this caucus")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      await unlessRemoved(
        d,
        () => d.sync(),
        () => undefined,
      );
      if (d instanceof Party && !d.joined) {
        output(
          o,
          { joined: false, caucuses: [] },
          "Not admitted yet: the mediator compares your verification code (`backchannel whoami`) with theirs, then admits this device.",
        );
        return;
      }
      const ids = selectedCaucuses(d, o.caucus);
      // What waits for the mediator: devices to admit, conveyances that have not reached every target.
      const admissions = d instanceof Mediator ? d.pendingAdmissions() : [];
      const conveyances = d instanceof Mediator ? d.getSnapshot().pendingConveyances : [];
      const data = {
        caucuses: ids.map((c) => ({ ...caucusSummary(d, c), entries: d.entries(c) })),
        ...(d instanceof Mediator ? { pendingAdmissions: admissions, pendingConveyances: conveyances } : {}),
      };
      const waiting = [
        ...(admissions.length
          ? [
              `${pc.yellow(`${admissions.length} handler device(s) waiting for admission`)} (${[...new Set(admissions.map((a) => a.partyName))].join(", ")}): compare codes with \`backchannel admissions\`, then \`backchannel admit\`.`,
            ]
          : []),
        ...conveyances.map((p) =>
          pc.yellow(
            `Not yet delivered: “${p.text}” from ${p.sourceParty}${p.undelivered.length ? ` — waiting for ${p.undelivered.join(", ")}` : ""}${p.unreceipted.length ? ` — receipt for ${p.unreceipted.join(", ")} not posted yet` : ""} (retried on every sync)`,
          ),
        ),
      ];
      const human =
        (waiting.length ? `${waiting.join("\n")}\n\n` : "") +
          ids
            .map(
              (c) =>
                `${pc.bold(caucusTitle(d, c))}\n${renderTranscript(d.entries(c), { selfDeviceId: d.deviceId, role: d.role, partyName: d.caucus(c).partyName }, d.caucus(c).problem)}`,
            )
            .join("\n\n") || "No caucuses yet.";
      // As `verify` does: a script must not take a broken transcript for a quiet one.
      if (ids.some((c) => d.caucus(c).problem)) outputFailure(o, data, human, transcriptProblem());
      const removed = removedFromAll(d);
      if (removed) outputFailure(o, data, human, removed);
      output(o, data, human);
    });
}
