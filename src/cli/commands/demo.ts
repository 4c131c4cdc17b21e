import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import pc from "picocolors";
import { defaultDemoDatabaseUrl, defaultDemoNatsUrl } from "../demo-defaults.js";
import { CliError, output, outputFailure } from "../context.js";
import type { Program } from "../global-options.js";

function nodeCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 16) throw new InvalidArgumentError("a whole number from 1 to 16");
  return n;
}

export function registerDemoCommand(program: Program): void {
  program
    .command("demo")
    .description(
      "play docs/design.md's acceptance story on a temporary server, narrating and checking invariants 1-5",
    )
    .addOption(
      new Option(
        "--nodes <n>",
        "play it across N relay nodes on PostgreSQL and NATS, each device on another node",
      ).argParser(nodeCount),
    )
    .addOption(
      new Option(
        "--database-url <url>",
        "with --nodes: the PostgreSQL server (the demo uses a schema of its own)",
      )
        .env("BACKCHANNEL_DATABASE_URL")
        .default(defaultDemoDatabaseUrl),
    )
    .addOption(
      new Option("--nats-url <url>", "with --nodes: the NATS server")
        .env("BACKCHANNEL_NATS_URL")
        .default(defaultDemoNatsUrl),
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const { runDemo } = await import("../demo.js");
      const result = await runDemo({
        // No option for it: the demo shares the relay's variable (README, Configuration).
        ...(process.env.BACKCHANNEL_DATA_DIR ? { dataDir: process.env.BACKCHANNEL_DATA_DIR } : {}),
        ...(o.nodes !== undefined ? { nodes: o.nodes, databaseUrl: o.databaseUrl, natsUrl: o.natsUrl } : {}),
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
