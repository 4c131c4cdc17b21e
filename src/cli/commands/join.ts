import { Party } from "../../sdk/index.js";
import { nodePlatform } from "../../sdk/node.js";
import { newStore, output } from "../context.js";
import type { Program } from "../global-options.js";

export function registerJoinCommand(program: Program): void {
  program
    .command("join")
    .description("join a caucus as a party's designated handler, with the invite code the mediator gave you")
    .argument("<code>", "invite code (bc1-…)")
    .option("--name <label>", "your own label for this device (never shown to other parties)", "handler")
    .option("--wait <seconds>", "wait this long for the mediator to admit you", "0")
    .action(async (code, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const p = await Party.join({
        inviteCode: code,
        name: o.name,
        store: await newStore(o),
        platform: nodePlatform,
      });
      const joined =
        Number(o.wait) > 0 ? await p.waitUntilJoined(Number(o.wait) * 1000) : (await p.sync(), p.joined);
      output(
        o,
        { deviceId: p.deviceId, caucusId: p.caucusId, joined, verificationCode: p.verificationCode() },
        `Invite redeemed; device ${p.deviceId}.\n${joined ? "Admitted to the caucus." : "Waiting for the mediator to admit this device (run `backchannel inbox` later)."}\nVerification code — compare it with the mediator out of band:\n${p.verificationCode()}`,
      );
    });
}
