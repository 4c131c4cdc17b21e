import { Mediator, Party } from "../../sdk/index.js";
import { openDevice, output } from "../context.js";
import type { Program } from "../global-options.js";

export function registerWhoamiCommand(program: Program): void {
  program
    .command("whoami")
    .alias("identity")
    .description("this device: role, id, keys and verification codes")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const d = await openDevice(o);
      const info: Record<string, unknown> = {
        deviceId: d.deviceId,
        role: d.role,
        server: d.serverUrl,
        identityKey: d.identityPublicKey,
        mediatorKey: d.mediatorKey,
      };
      let human = `${d.role} device ${d.deviceId}\nserver: ${d.serverUrl}\nidentity key: ${d.identityPublicKey}`;
      if (d instanceof Party) {
        info.verificationCode = d.verificationCode();
        info.joined = d.joined;
        human += `\npinned mediator key: ${d.mediatorKey}\nverification code (compare with the mediator):\n${d.verificationCode()}`;
      } else if (d instanceof Mediator) {
        const handlers = d
          .caucusIds()
          .flatMap((c) => d.handlers(c).map((h) => ({ caucusId: c, party: d.caucus(c).partyName, ...h })));
        info.handlers = handlers;
        info.mediatorDevices = d.mediatorDevices().map((x) => x.deviceId);
        for (const h of handlers)
          human += `\n${h.party} handler ${h.deviceId}: ${h.verificationCode.replace(/\n/g, " ")}`;
      }
      output(o, info, human);
    });
}
