import { BackchannelError } from "../protocol/errors.js";

/** An error the CLI itself raises: a stable code, and the exit status it ends the command with. */
export class CliError extends BackchannelError {
  constructor(
    code: string,
    message: string,
    readonly exitCode = 1,
    /** The command's own --json document already carries this error: print nothing more. */
    readonly inJsonOutput = false,
  ) {
    super(code, message);
  }
}
