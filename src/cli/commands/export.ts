import { writeFileSync } from "node:fs";
import { describeStance } from "../../protocol/index.js";
import { caucusSummary } from "../caucus-summary.js";
import { openDevice, selectedCaucuses } from "../context.js";
import type { Program } from "../global-options.js";

export function registerExportCommand(program: Program): void {
  program
    .command("export")
    .description("export verified transcripts as JSON (every signal with its stance)")
    .option("--caucus <id or party>", "only this caucus")
    .option("--out <file>", "write to a file instead of stdout")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      await d.sync();
      const doc = {
        exportedAt: new Date().toISOString(),
        deviceId: d.deviceId,
        role: d.role,
        caucuses: selectedCaucuses(d, o.caucus).map((c) => ({
          ...caucusSummary(d, c),
          anchor: d.caucus(c).anchor,
          events: d.entries(c).map((e) => {
            const b = e.payload?.body;
            return { ...e, ...(b && "stance" in b ? { stanceText: describeStance(b.stance) } : {}) };
          }),
        })),
      };
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      if (o.out) {
        writeFileSync(o.out, text, { mode: 0o600 });
        process.stdout.write(o.json ? `${JSON.stringify({ written: o.out })}\n` : `Wrote ${o.out}\n`);
      } else process.stdout.write(text);
    });
}
