import { Option } from "@commander-js/extra-typings";
import { dataDirOption } from "../data-dir-option.js";
import type { Program } from "../global-options.js";

export function registerServeCommand(program: Program): void {
  program
    .command("serve")
    .description("run the relay server (SQLite in --data-dir, or PostgreSQL at BACKCHANNEL_DATABASE_URL)")
    .addOption(new Option("--port <port>", "port (default 7700)").env("BACKCHANNEL_PORT"))
    .addOption(new Option("--host <host>", "interface (default 127.0.0.1)").env("BACKCHANNEL_HOST"))
    .addOption(dataDirOption())
    .addOption(
      new Option(
        "--allow-origin <origins>",
        "comma-separated browser origins allowed to call the API (default any: it takes bearer tokens only)",
      ).env("BACKCHANNEL_ALLOW_ORIGIN"),
    )
    .addOption(
      new Option(
        "--metrics-port <port>",
        "serve Prometheus metrics at /metrics on this port, on a listener of its own (default none)",
      ).env("BACKCHANNEL_METRICS_PORT"),
    )
    .addOption(
      new Option("--metrics-host <host>", "the metrics listener's interface (default 127.0.0.1)").env(
        "BACKCHANNEL_METRICS_HOST",
      ),
    )
    .addOption(
      new Option(
        "--drain-timeout <seconds>",
        "on SIGTERM/SIGINT, how long to let requests and push sockets finish (default 8)",
      ).env("BACKCHANNEL_DRAIN_TIMEOUT"),
    )
    // No .choices(): the relay checks the value (registration-env.ts), where an empty variable
    // counts as unset, as container environments leave them.
    .addOption(
      new Option(
        "--registration <mode>",
        "who may register a mediator: tokens (default; from `backchannel admin token create`) or open (anyone who can reach the relay)",
      ).env("BACKCHANNEL_REGISTRATION"),
    )
    .option(
      "--console",
      "also serve the web console at / (its users must then trust whoever runs this relay; see README, Trust)",
    )
    .action(async (o) => {
      const [{ serve }, { localClientUrl }, { registrationFromEnv }] = await Promise.all([
        import("../../server/main.js"),
        import("../../server/start-server.js"),
        import("../../server/registration/registration-env.js"),
      ]);
      // The relay reads its settings from an environment; the options (which already fall back
      // to the same variables) win over it.
      const env = {
        ...process.env,
        ...(o.port ? { BACKCHANNEL_PORT: o.port } : {}),
        ...(o.host ? { BACKCHANNEL_HOST: o.host } : {}),
        ...(o.dataDir ? { BACKCHANNEL_DATA_DIR: o.dataDir } : {}),
        ...(o.allowOrigin ? { BACKCHANNEL_ALLOW_ORIGIN: o.allowOrigin } : {}),
        ...(o.metricsPort ? { BACKCHANNEL_METRICS_PORT: o.metricsPort } : {}),
        ...(o.metricsHost ? { BACKCHANNEL_METRICS_HOST: o.metricsHost } : {}),
        ...(o.drainTimeout ? { BACKCHANNEL_DRAIN_TIMEOUT: o.drainTimeout } : {}),
        ...(o.registration ? { BACKCHANNEL_REGISTRATION: o.registration } : {}),
      };
      const server = await serve(env, { withConsole: o.console === true });
      const url = localClientUrl(server.url);
      // With closed registration (the default) the first step is a token, made beside the data.
      const closed = registrationFromEnv(env) === "tokens";
      const tokenStep = closed
        ? `  npx backchannel admin token create${o.dataDir ? ` --data-dir ${o.dataDir}` : ""}   # prints a registration token once\n`
        : "";
      const tokenFlag = closed ? " --token <token>" : "";
      process.stderr.write(
        `Next, in another terminal:\n${tokenStep}  export BACKCHANNEL_PASSPHRASE=…   # unlocks your device keystore\n  npx backchannel mediator init --server ${url} --name "Your name"${tokenFlag}\n  npx backchannel channel create --topic "…" --party A --party B\nOr use the web console: npx backchannel console --server ${url}\nOr watch the whole story: npm run demo\n`,
      );
    });
}
