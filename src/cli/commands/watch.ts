import pc from "picocolors";
import { watch } from "../../sdk/index.js";
import { openDevice } from "../context.js";
import type { Program } from "../global-options.js";
import { renderTranscript } from "../render.js";

export function registerWatchCommand(program: Program): void {
  program
    .command("watch")
    .description("stay connected and print events as they arrive (Ctrl-C to stop)")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      const handle = await watch(
        d,
        (caucusId, added) => {
          if (o.json) for (const e of added) process.stdout.write(`${JSON.stringify({ caucusId, ...e })}\n`);
          else
            process.stdout.write(
              `${renderTranscript(added, { selfDeviceId: d.deviceId, role: d.role, partyName: d.caucus(caucusId).partyName }, d.caucus(caucusId).problem)}\n`,
            );
        },
        (status) => {
          if (!o.json) process.stderr.write(pc.dim(`${status}\n`));
        },
      );
      await handle.done;
    });
}
