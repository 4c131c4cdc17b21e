import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { CliError, output } from "../context.js";
import type { Program } from "../global-options.js";

const port = (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) throw new InvalidArgumentError("a port number (0-65535)");
  return n;
};

/**
 * `backchannel console`: the web console from this installation, served on this machine, talking
 * to the relay cross-origin. The relay then never ships the code that holds a browser's keys.
 */
export function registerConsoleCommand(program: Program): void {
  program
    .command("console")
    .description("serve the web console from this installation on 127.0.0.1, talking to --server")
    .addOption(
      new Option("--server <url>", "the relay's URL")
        .env("BACKCHANNEL_SERVER")
        .default("http://127.0.0.1:7700"),
    )
    .addOption(
      new Option("--port <port>", "port; keep it stable: the browser keeps a device's keys per port")
        .env("BACKCHANNEL_CONSOLE_PORT")
        .argParser(port)
        .default(7701),
    )
    .addOption(
      new Option(
        "--host <host>",
        "interface; browsers allow WebCrypto on plain http only on loopback",
      ).default("127.0.0.1"),
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const { startConsoleHost } = await import("../console-host.js");
      const host = await startConsoleHost({ relayUrl: o.server, port: o.port, host: o.host }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code === "EADDRINUSE")
            throw new CliError(
              "port_in_use",
              `port ${o.port} is in use (another \`backchannel console\`?). A browser keeps a device per port: pass the --port it was made on`,
            );
          throw new CliError("console_unavailable", error.message);
        },
      );
      output(
        o,
        { url: `${host.url}/`, relayUrl: host.relayUrl },
        `Backchannel console: ${host.url}/  (relay: ${host.relayUrl})\nOpen it in your browser; Ctrl-C stops it. Your keys stay in this browser, under this address.`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => void host.close().then(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
