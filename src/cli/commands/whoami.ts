import { Mediator, Party } from "../../sdk/index.js";
import { openDevice, output, removedCaucuses } from "../context.js";
import type { Program } from "../global-options.js";

export function registerWhoamiCommand(program: Program): void {
  program
    .command("whoami")
    .alias("identity")
    .description(
      "this device: role, name, id, keys, verification codes, and whether it was admitted or removed",
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      // What this device last learnt from the relay (whoami itself sends nothing).
      const removed = removedCaucuses(d);
      const removedFromAll = removed.length > 0 && removed.length === d.caucusIds().length;
      const info: Record<string, unknown> = {
        deviceId: d.deviceId,
        role: d.role,
        name: d.name,
        server: d.serverUrl,
        identityKey: d.identityPublicKey,
        mediatorKey: d.mediatorKey,
      };
      let human = `${d.role} device ${d.deviceId}\n${d instanceof Party ? `device name: ${d.name} (your own label; never shown to other parties)` : `mediator name: ${d.name}`}\nserver: ${d.serverUrl}\nidentity key: ${d.identityPublicKey}`;
      if (d instanceof Party) {
        info.verificationCode = d.verificationCode();
        info.joined = d.joined && !removedFromAll;
        info.removed = removedFromAll;
        human += `\n${
          removedFromAll
            ? "REMOVED: the mediator removed this device from its caucus; it can read nothing sent since and send nothing"
            : d.joined
              ? "admitted to its caucus"
              : "waiting for the mediator to admit this device"
        }\npinned mediator key: ${d.mediatorKey}\nverification code (compare with the mediator):\n${d.verificationCode()}`;
      } else if (d instanceof Mediator) {
        const handlers = d
          .caucusIds()
          .flatMap((c) => d.handlers(c).map((h) => ({ caucusId: c, party: d.caucus(c).partyName, ...h })));
        info.handlers = handlers;
        info.mediatorDevices = d.mediatorDevices().map((x) => x.deviceId);
        info.removed = removedFromAll;
        if (removedFromAll)
          human += "\nREMOVED: another of the mediator's devices removed this one from every caucus";
        for (const h of handlers)
          human += `\n${h.party} handler ${h.deviceId}: ${h.verificationCode.replace(/\n/g, " ")}`;
      }
      output(o, info, human);
    });
}
