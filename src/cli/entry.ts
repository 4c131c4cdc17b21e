import { exitQuietlyOnClosedPipe } from "./closed-pipe.js";
import { askAgent, forwardable, homeFromArgs, readsStdin, unsafeSocket } from "./agent-socket.js";

/**
 * The CLI's front (bin/backchannel.js): when an agent (`backchannel agent start`) serves the data
 * dir, a command goes to it and this process prints what it answers, without loading the sdk
 * (ts-mls, zod, HPKE) or deriving the keystore key (issue 12, item 9). Otherwise, and for the
 * commands that always run here (agent-socket.ts), the full CLI (main.ts) runs as it always did.
 */
async function viaAgent(args: string[]): Promise<number | undefined> {
  if (!forwardable(args) || process.env.BACKCHANNEL_NO_AGENT) return undefined;
  const home = homeFromArgs(args);
  const problem = unsafeSocket(home);
  if (problem)
    return refuse(
      "agent_unsafe",
      `not using the agent: ${problem} (run \`backchannel agent stop\` or remove it)`,
      args,
    );
  exitQuietlyOnClosedPipe(process.stdout, process.stderr);
  let stdin: string | undefined;
  if (readsStdin(args)) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    stdin = Buffer.concat(chunks).toString("base64");
  }
  let exit: number | undefined;
  try {
    const served = await askAgent(
      home,
      { argv: args, cwd: process.cwd(), ...(stdin === undefined ? {} : { stdin }) },
      (f) => {
        if ("stream" in f)
          (f.stream === "stdout" ? process.stdout : process.stderr).write(Buffer.from(f.data, "base64"));
        else if ("exit" in f) exit = f.exit;
      },
    );
    if (!served) return undefined;
    return exit ?? refuse("agent_lost", "the agent closed the connection without an exit code", args);
  } catch (e) {
    return refuse("agent_lost", `the agent went away before it answered: ${(e as Error).message}`, args);
  }
}

/** Prints an error as main.ts does (one JSON document with --json). */
function refuse(code: string, message: string, args: string[]): number {
  if (args.includes("--json")) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
  else process.stderr.write(`error [${code}] ${message}\n`);
  return 1;
}

const code = await viaAgent(process.argv.slice(2));
if (code === undefined) await import("./main.js");
else process.exitCode = code;
