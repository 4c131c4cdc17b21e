import { attribution } from "../../protocol/index.js";
import { attachedFiles } from "../attach-options.js";
import { CliError, openMediator, output, outputFailure } from "../context.js";
import { conveyanceModeOption } from "../disclosure-options.js";
import type { Program } from "../global-options.js";
import { collect } from "../repeatable.js";
import { readTextOption, textFileHelp, textHelp } from "../text-source.js";
import { resolveCaucus, resolveEntry } from "../resolve.js";

export function registerConveyCommand(program: Program): void {
  program
    .command("convey")
    .description(
      "carry a party's signal (or acknowledgement) to the other caucus(es), as its sender allowed; posts the receipt",
    )
    .requiredOption("--from <party>", "the caucus it was said in (party name or caucus id)")
    .requiredOption("--event <ref>", "the signal: its #number in that caucus, or its id")
    .addOption(conveyanceModeOption())
    .option("--text <words>", `your wording, required for substance: ${textHelp}`)
    .option("--text-file <path>", textFileHelp)
    .option("--to <party>", "target caucus (repeatable; default: every other party)", collect, [])
    .option("--anonymous", "attribute it to “a party” instead of naming the sender")
    .option(
      "--own-file <file>",
      "with --mode substance: attach your own file instead of the sender's (repeatable)",
      collect,
      [],
    )
    .option("--no-files", "leave the sender's files out of a verbatim conveyance")
    .option("--channel <id or topic>", "which channel, if you have several")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const text = await readTextOption(o, false);
      const ownFiles = await attachedFiles(o.ownFile);
      const m = await openMediator(o);
      await m.sync();
      const from = resolveCaucus(m, o.from, o.channel);
      const entry = resolveEntry(m.entries(from.caucusId), o.event);
      // The sdk refuses what the sender did not allow (the disclosure policy), with the same codes.
      const to = o.to.map((t) => resolveCaucus(m, t, from.channelId).caucusId);
      const r = await m.convey({
        from: from.caucusId,
        eventId: entry.eventId,
        mode: o.mode,
        ...(text ? { text } : {}),
        ...(to.length ? { to } : {}),
        // Without --anonymous the sdk decides (it keeps an anonymous sender anonymous).
        ...(o.anonymous ? { attribution: attribution.enum.anonymous } : {}),
        ...(ownFiles.length ? { ownFiles } : {}),
        ...(o.files ? {} : { sourceFiles: false }),
      });
      const rb = r.receipt?.payload?.body;
      const files = rb?.type === "receipt" ? (rb.attachments ?? []) : [];
      const lines = [
        rb?.type === "receipt"
          ? `Conveyed #${entry.seq} from ${from.partyName} to ${rb.toParties.join(", ")} (${o.mode}).\nReceipt #${r.receipt!.seq} posted in ${from.partyName}'s caucus with the exact words used, naming only where it landed.`
          : `Conveyed #${entry.seq} from ${from.partyName} nowhere yet: no receipt was posted.`,
        ...files.map((f) => `with the file ${f.name} (${f.size} bytes, SHA-256 ${f.sha256})`),
        ...r.undelivered.map(
          (u) =>
            `Not delivered to ${u.partyName} (${u.error ?? "unknown"}): it stays pending and is retried on every sync.`,
        ),
      ];
      if (!r.undelivered.length) return output(o, r, lines.join("\n"));
      outputFailure(
        o,
        r,
        lines.join("\n"),
        new CliError(
          "conveyance_incomplete",
          `not delivered to ${r.undelivered.map((u) => u.partyName).join(", ")} yet; the receipt names only where it landed`,
        ),
      );
    });
}
