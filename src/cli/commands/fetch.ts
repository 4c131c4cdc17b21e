import { Mediator } from "../../sdk/index.js";
import { saveAttachment } from "../../sdk/node.js";
import { progressLine } from "../attach-options.js";
import { CliError, openDevice, output } from "../context.js";
import type { Program } from "../global-options.js";
import { resolveCaucus, resolveEntry } from "../resolve.js";

export function registerFetchCommand(program: Program): void {
  program
    .command("fetch")
    .description(
      "download and decrypt the files attached to an event, each checked against its SHA-256 before it is saved",
    )
    .argument("<event>", "the event: its #number in the caucus, or its id")
    .option("--out <dir>", "where to save the files (default: the current directory)", ".")
    .option("--caucus <party>", "the mediator: which caucus the event is in (party name or caucus id)")
    .option("--channel <id or topic>", "which channel, if you have several")
    .option("--overwrite", "replace a file of the same name")
    .action(async (ref, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      await d.sync();
      let caucusId: string;
      if (d instanceof Mediator) {
        if (!o.caucus) throw new CliError("invalid_request", "name the caucus with --caucus <party>", 2);
        caucusId = resolveCaucus(d, o.caucus, o.channel).caucusId;
      } else caucusId = d.caucusId;
      const entry = resolveEntry(d.entries(caucusId), ref);
      const files = [];
      for (const file of d.attachments(caucusId, entry.eventId)) {
        const shown = progressLine("Downloading", file.name, file.size);
        const path = await saveAttachment(file, o.out, {
          ...(o.overwrite ? { overwrite: true } : {}),
          ...(shown ? { progress: (done) => shown(done) } : {}),
        });
        files.push({ name: file.name, type: file.type, size: file.size, sha256: file.sha256, path });
      }
      output(
        o,
        { eventId: entry.eventId, seq: entry.seq, files },
        files.map((f) => `Saved ${f.path} (${f.size} bytes, SHA-256 ${f.sha256} verified).`).join("\n"),
      );
    });
}
