import { describeStance } from "../../protocol/index.js";
import { disclosureDefaults } from "../../sdk/index.js";
import { attachedFiles, attachHelp, progressLine } from "../attach-options.js";
import { openParty, output } from "../context.js";
import { collect } from "../repeatable.js";
import { attributionOf, disclosureOption, signalKindOption } from "../disclosure-options.js";
import type { Program } from "../global-options.js";
import { addStanceOptions, stanceFrom } from "../stance-options.js";
import { readTextOption, textFileHelp, textHelp } from "../text-source.js";

export function registerSendCommand(program: Program): void {
  addStanceOptions(
    program
      .command("send")
      .description(
        "send a signal to the mediator in your party's caucus (non-binding unless you say otherwise)",
      )
      .option("--text <words>", textHelp)
      .option("--text-file <path>", textFileHelp)
      .option("--attach <file>", attachHelp, collect, [])
      .addOption(signalKindOption())
      .addOption(disclosureOption(disclosureDefaults.disclosure))
      .option("--anonymous", "if conveyed, attribute it to “a party”, not your party's name")
      .option(
        "--expires <iso-time>",
        "after this time it may no longer be conveyed; devices burn it, and the relay deletes it after that hour",
      )
      .option(
        "--no-relay-deletion",
        "with --expires: do not tell the relay the expiry (it keeps the ciphertext until the channel's retention)",
      )
      .option("--on-behalf-of <principal>", "say it on behalf of your principal (a personal message)"),
  ).action(async (_o, cmd) => {
    const o = cmd.optsWithGlobals();
    const text = (await readTextOption(o, true))!;
    const files = await attachedFiles(o.attach);
    const shown = files.map((f) => progressLine("Uploading", f.name, f.size));
    const p = await openParty(o);
    const e = await p.send({
      text,
      signalKind: o.kind,
      disclosure: o.disclosure,
      attribution: attributionOf(o.anonymous),
      stance: stanceFrom(o),
      ...(o.expires ? { expiresAt: new Date(o.expires).toISOString() } : {}),
      relayDeletion: o.relayDeletion !== false,
      ...(o.onBehalfOf ? { onBehalfOf: o.onBehalfOf } : {}),
      ...(files.length ? { attachments: files, onProgress: (i, done) => shown[i]?.(done) } : {}),
    });
    const b = e.payload?.body;
    const attached = b?.type === "signal" ? (b.attachments ?? []) : [];
    output(
      o,
      e,
      [
        `Sent signal #${e.seq}.`,
        `stance: ${b && "stance" in b ? describeStance(b.stance) : "?"}`,
        ...attached.map((a) => `attached: ${a.name} (${a.size} bytes, SHA-256 ${a.sha256})`),
      ].join("\n"),
    );
  });
}
