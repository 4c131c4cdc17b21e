import { rootCommand, type Program } from "./global-options.js";

type Register = (program: Program) => void;

/**
 * Every command, in the order `--help` lists them (operator, any device, mediator, handler): the
 * names and aliases it answers to, and its module, imported only when needed. A command loads its
 * own graph and nothing else: `whoami`, `inbox` or `send` never load the relay (fastify, SQLite,
 * PostgreSQL, NATS), the console's server or the demo, which would cost every command their
 * start-up (issue 12, item 9; bench/cli-startup.ts).
 */
const commands: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ["serve"], load: async () => (await import("./commands/serve.js")).registerServeCommand },
  { names: ["console"], load: async () => (await import("./commands/console.js")).registerConsoleCommand },
  { names: ["demo"], load: async () => (await import("./commands/demo.js")).registerDemoCommand },
  { names: ["admin"], load: async () => (await import("./commands/admin.js")).registerAdminCommand },
  { names: ["agent"], load: async () => (await import("./commands/agent.js")).registerAgentCommand },
  { names: ["mediator"], load: async () => (await import("./commands/mediator.js")).registerMediatorCommand },
  { names: ["join"], load: async () => (await import("./commands/join.js")).registerJoinCommand },
  {
    names: ["whoami", "identity"],
    load: async () => (await import("./commands/whoami.js")).registerWhoamiCommand,
  },
  { names: ["inbox", "sync"], load: async () => (await import("./commands/inbox.js")).registerInboxCommand },
  { names: ["watch"], load: async () => (await import("./commands/watch.js")).registerWatchCommand },
  { names: ["verify"], load: async () => (await import("./commands/verify.js")).registerVerifyCommand },
  { names: ["export"], load: async () => (await import("./commands/export.js")).registerExportCommand },
  { names: ["logout"], load: async () => (await import("./commands/logout.js")).registerLogoutCommand },
  { names: ["channel"], load: async () => (await import("./commands/channel.js")).registerChannelCommand },
  {
    names: ["admissions", "pending", "admit"],
    load: async () => (await import("./commands/admissions.js")).registerAdmissionCommands,
  },
  { names: ["convey"], load: async () => (await import("./commands/convey.js")).registerConveyCommand },
  { names: ["note"], load: async () => (await import("./commands/note.js")).registerNoteCommand },
  {
    names: ["understanding"],
    load: async () => (await import("./commands/understanding.js")).registerUnderstandingCommand,
  },
  { names: ["remove"], load: async () => (await import("./commands/remove.js")).registerRemoveCommand },
  { names: ["show"], load: async () => (await import("./commands/show.js")).registerShowCommand },
  { names: ["send"], load: async () => (await import("./commands/send.js")).registerSendCommand },
  { names: ["fetch"], load: async () => (await import("./commands/fetch.js")).registerFetchCommand },
  {
    names: ["acknowledge", "ack"],
    load: async () => (await import("./commands/acknowledge.js")).registerAcknowledgeCommand,
  },
  { names: ["endorse"], load: async () => (await import("./commands/endorse.js")).registerEndorseCommand },
];

/** Global options that take a value: the word after them is that value, not a command. */
const valueOptions = new Set(["--home", "--passphrase-file"]);

/** The command `args` (process.argv without node and the script) names, if any. */
function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (valueOptions.has(a)) i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

/**
 * Exit codes: 0 ok, 1 error, 2 usage, 3 transcript problem (inbox, verify), 4 demo check failed,
 * 5 join --wait timed out. `args`: the user's words (process.argv after node and the script); a
 * command they name is the only one loaded. Without one (help), with one it does not know, or
 * without `args`, all are: help lists every command and commander answers an unknown one.
 */
export async function buildProgram(args: readonly string[] = []): Promise<Program> {
  const program = rootCommand();
  const word = commandWord(args);
  const named = commands.find((c) => word !== undefined && c.names.includes(word));
  for (const c of named ? [named] : commands) (await c.load())(program);
  return program;
}
