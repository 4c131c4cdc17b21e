import { registerAcknowledgeCommand } from "./commands/acknowledge.js";
import { registerAdminCommand } from "./commands/admin.js";
import { registerAdmissionCommands } from "./commands/admissions.js";
import { registerChannelCommand } from "./commands/channel.js";
import { registerConsoleCommand } from "./commands/console.js";
import { registerConveyCommand } from "./commands/convey.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerEndorseCommand } from "./commands/endorse.js";
import { registerExportCommand } from "./commands/export.js";
import { registerFetchCommand } from "./commands/fetch.js";
import { registerInboxCommand } from "./commands/inbox.js";
import { registerJoinCommand } from "./commands/join.js";
import { registerLogoutCommand } from "./commands/logout.js";
import { registerMediatorCommand } from "./commands/mediator.js";
import { registerNoteCommand } from "./commands/note.js";
import { registerRemoveCommand } from "./commands/remove.js";
import { registerSendCommand } from "./commands/send.js";
import { registerServeCommand } from "./commands/serve.js";
import { registerShowCommand } from "./commands/show.js";
import { registerUnderstandingCommand } from "./commands/understanding.js";
import { registerVerifyCommand } from "./commands/verify.js";
import { registerWatchCommand } from "./commands/watch.js";
import { registerWhoamiCommand } from "./commands/whoami.js";
import { rootCommand, type Program } from "./global-options.js";

/** Every command, in the order `--help` lists them: operator, any device, mediator, handler. */
const commands: ((program: Program) => void)[] = [
  registerServeCommand,
  registerConsoleCommand,
  registerDemoCommand,
  registerAdminCommand,
  registerMediatorCommand,
  registerJoinCommand,
  registerWhoamiCommand,
  registerInboxCommand,
  registerWatchCommand,
  registerVerifyCommand,
  registerExportCommand,
  registerLogoutCommand,
  registerChannelCommand,
  registerAdmissionCommands,
  registerConveyCommand,
  registerNoteCommand,
  registerUnderstandingCommand,
  registerRemoveCommand,
  registerShowCommand,
  registerSendCommand,
  registerFetchCommand,
  registerAcknowledgeCommand,
  registerEndorseCommand,
];

/** Exit codes: 0 ok, 1 error, 2 usage, 3 transcript problem (inbox, verify), 4 demo check failed. */
export function buildProgram(): Program {
  const program = rootCommand();
  for (const register of commands) register(program);
  return program;
}
