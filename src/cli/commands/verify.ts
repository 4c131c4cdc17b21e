import pc from "picocolors";
import { describeProblem } from "../../protocol/index.js";
import { caucusTitle, transcriptProblem } from "../caucus-summary.js";
import { openDevice, output, outputFailure } from "../context.js";
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
      const reports = await d.verify();
      const ok = reports.every((r) => r.ok);
      const data = { ok, caucuses: reports };
      const human =
        reports
          .map((r) =>
            r.ok
              ? pc.green(
                  `✔ ${caucusTitle(d, r.caucusId)}: ${r.events} events verified, head #${r.head.seq} ${r.head.hash.slice(0, 16)}…`,
                )
              : pc.red(`✘ ${caucusTitle(d, r.caucusId)}: ${r.problem ? describeProblem(r.problem) : "?"}`),
          )
          .join("\n") || "No caucuses to verify.";
      if (!ok) outputFailure(o, data, human, transcriptProblem());
      output(o, data, human);
    });
}
