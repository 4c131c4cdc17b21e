import pc from "picocolors";
import { CliError, output, outputFailure } from "../context.js";
import type { Program } from "../global-options.js";

export function registerDemoCommand(program: Program): void {
  program
    .command("demo")
    .description(
      "play docs/design.md's acceptance story on a temporary server, narrating and checking invariants 1-5",
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const { runDemo } = await import("../demo.js");
      const result = await runDemo({
        // No option for it: the demo shares the relay's variable (README, Configuration).
        ...(process.env.BACKCHANNEL_DATA_DIR ? { dataDir: process.env.BACKCHANNEL_DATA_DIR } : {}),
        say: o.json ? () => {} : (line) => process.stdout.write(`${line}\n`),
      });
      if (result.ok)
        return output(o, result, pc.green(pc.bold(`\nAll ${result.checks.length} checks passed.`)));
      // One JSON document either way: the result with the error in it.
      outputFailure(
        o,
        result,
        pc.red(pc.bold("\nSome checks FAILED.")),
        new CliError("demo_failed", `${result.checks.filter((c) => !c.ok).length} check(s) failed`, 4),
      );
    });
}
