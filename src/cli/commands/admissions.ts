import pc from "picocolors";
import type { PendingAdmission } from "../../sdk/index.js";
import { CliError, openMediator, output } from "../context.js";
import type { Program } from "../global-options.js";
import { resolveCaucus } from "../resolve.js";

const describe = (a: PendingAdmission) =>
  `${pc.bold(a.partyName)}: device ${a.deviceId} (invite ${a.inviteId}, valid until ${a.expiresAt})\n` +
  `  verification code:\n${a.verificationCode
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}`;

/** `backchannel admissions` and `backchannel admit` (mediator): compare codes, then admit. */
export function registerAdmissionCommands(program: Program): void {
  program
    .command("admissions")
    .alias("pending")
    .description("handlers' devices waiting for you to compare verification codes and admit them")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      await m.sync();
      const pending = m.pendingAdmissions();
      output(
        o,
        { pending },
        pending.length
          ? `${pending.map(describe).join("\n\n")}\n\nRead the code to the handler over a channel you trust (their \`backchannel whoami\` shows it); if it matches, run \`backchannel admit <party or device id>\`.`
          : "Nobody is waiting for admission.",
      );
    });

  program
    .command("admit")
    .description("admit a handler's device after comparing its verification code with the handler")
    .argument("<party or device id>", "the party (if one device of it waits) or the device id (or its start)")
    .option("--channel <id or topic>", "which channel, if a party name is in several")
    .action(async (ref, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      await m.sync();
      const pending = m.pendingAdmissions();
      let matches = pending.filter((a) => a.deviceId === ref || a.deviceId.startsWith(ref.trim()));
      if (!matches.length) {
        const byParty = (() => {
          try {
            return resolveCaucus(m, ref, o.channel).caucusId;
          } catch {
            return undefined;
          }
        })();
        matches = pending.filter((a) => a.caucusId === byParty);
      }
      if (!matches.length)
        throw new CliError(
          "admission_unknown",
          `nobody waits for admission as “${ref}” (see \`backchannel admissions\`)`,
        );
      if (matches.length > 1)
        throw new CliError(
          "admission_ambiguous",
          `several devices wait for “${ref}”: name one by its device id (see \`backchannel admissions\`)`,
        );
      const a = matches[0]!;
      await m.admit(a.caucusId, a.deviceId);
      output(
        o,
        {
          admitted: a.deviceId,
          caucusId: a.caucusId,
          party: a.partyName,
          verificationCode: a.verificationCode,
        },
        `Admitted device ${a.deviceId} into ${a.partyName}'s caucus (verification code ${a.verificationCode.split("\n")[0]} …).`,
      );
    });
}
