import pc from "picocolors";
import { describeProblem } from "../../protocol/index.js";
import type { VerifyReport } from "../../sdk/index.js";
import { caucusTitle, transcriptProblem } from "../caucus-summary.js";
import {
  openDevice,
  output,
  outputFailure,
  removedCaucuses,
  removedFromAll,
  unlessRemoved,
} from "../context.js";
import type { Program } from "../global-options.js";

export function registerVerifyCommand(program: Program): void {
  program
    .command("verify")
    .description(
      "re-read every transcript from the server and check its hash chain against what this device verified before; exits 3 on a transcript problem",
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      // A removed device verifies what it holds: the relay serves it nothing more (device_removed).
      const verified = await unlessRemoved(
        d,
        () => d.verify(),
        () =>
          d.caucusIds().map((caucusId): VerifyReport => {
            const r = d.caucus(caucusId);
            return {
              caucusId,
              ok: !r.problem,
              events: r.entries.length,
              head: r.head,
              ...(r.problem ? { problem: r.problem } : {}),
            };
          }),
      );
      const removed = new Set(removedCaucuses(d));
      const reports = verified.map((r) => (removed.has(r.caucusId) ? { ...r, removed: true } : r));
      const ok = reports.every((r) => r.ok);
      // `ok` is about the transcripts; `removed` says this device can no longer read or send.
      const data = { ok, ...(removed.size ? { removed: true } : {}), caucuses: reports };
      const human =
        reports
          .map((r) =>
            r.ok
              ? pc.green(
                  `✔ ${caucusTitle(d, r.caucusId)}: ${r.events} events verified${removed.has(r.caucusId) ? " up to its removal" : ""}, head #${r.head.seq} ${r.head.hash.slice(0, 16)}…`,
                )
              : pc.red(`✘ ${caucusTitle(d, r.caucusId)}: ${r.problem ? describeProblem(r.problem) : "?"}`),
          )
          .join("\n") || "No caucuses to verify.";
      if (!ok) outputFailure(o, data, human, transcriptProblem());
      const removedError = removedFromAll(d);
      if (removedError) outputFailure(o, data, human, removedError);
      output(o, data, human);
    });
}
