import type { Command } from "commander";
import pc from "picocolors";
import { output, CliError, commandOptions } from "../context.js";

const g = commandOptions;

export function registerServerCommands(program: Command): void {
  program
    .command("serve")
    .description("run the relay server (SQLite in BACKCHANNEL_DATA_DIR, default ./backchannel-data)")
    .option("--port <port>", "port (env BACKCHANNEL_PORT, default 7700)")
    .option("--host <host>", "interface (env BACKCHANNEL_HOST, default 127.0.0.1)")
    .option("--data-dir <dir>", "data directory (env BACKCHANNEL_DATA_DIR)")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const { serve } = await import("../../server/main.js");
      const server = await serve({
        ...process.env,
        ...(o.port ? { BACKCHANNEL_PORT: String(o.port) } : {}),
        ...(o.host ? { BACKCHANNEL_HOST: String(o.host) } : {}),
        ...(o.dataDir ? { BACKCHANNEL_DATA_DIR: String(o.dataDir) } : {}),
      });
      process.stderr.write(
        `Next, in another terminal:\n  export BACKCHANNEL_PASSPHRASE=…   # unlocks your device keystore\n  npx backchannel mediator init --server ${server.url} --name "Your name"\n  npx backchannel channel create --topic "…" --party A --party B\nOr watch the whole story: npm run demo\n`,
      );
    });

  program
    .command("demo")
    .description(
      "play docs/design.md's acceptance story on a temporary server, narrating and checking invariants 1-5",
    )
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const { runDemo } = await import("../demo.js");
      const result = await runDemo({
        ...(process.env.BACKCHANNEL_DATA_DIR ? { dataDir: process.env.BACKCHANNEL_DATA_DIR } : {}),
        say: o.json ? () => {} : (line) => process.stdout.write(`${line}\n`),
      });
      output(
        o,
        result,
        result.ok
          ? pc.green(pc.bold(`\nAll ${result.checks.length} checks passed.`))
          : pc.red(pc.bold("\nSome checks FAILED.")),
      );
      if (!result.ok)
        throw new CliError("demo_failed", `${result.checks.filter((c) => !c.ok).length} check(s) failed`, 4);
    });
}
