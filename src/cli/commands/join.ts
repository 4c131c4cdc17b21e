import { Party } from "../../sdk/index.js";
import { nodePlatform } from "../../sdk/node.js";
import { admissionTimeout, newStore, output, outputFailure, waitSeconds } from "../context.js";
import type { Program } from "../global-options.js";

export function registerJoinCommand(program: Program): void {
  program
    .command("join")
    .description(
      "join a caucus as a party's designated handler, with the invite code the mediator gave you; with --wait, exits 5 if the mediator has not admitted this device in time",
    )
    .argument(
      "<code>",
      "invite code: the long one (bc1-…) or the short one (7KQ3M-XHD9T-FAWR2-P8N4C, with --server)",
    )
    .option("--server <url>", "the relay's URL: needed with a short invite code")
    .option(
      "--name <label>",
      "your own label for this device (`whoami` shows it; never shown to other parties)",
      "handler",
    )
    .option("--wait <seconds>", "wait this long for the mediator to admit you (exit 5 if it does not)", "0")
    .action(async (code, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const wait = waitSeconds(o.wait);
      const p = await Party.join({
        inviteCode: code,
        name: o.name,
        store: await newStore(o),
        platform: nodePlatform,
        ...(o.server !== undefined ? { serverUrl: o.server } : {}),
      });
      const joined = wait > 0 ? await p.waitUntilJoined(wait * 1000) : (await p.sync(), p.joined);
      const data = {
        deviceId: p.deviceId,
        name: p.name,
        caucusId: p.caucusId,
        joined,
        verificationCode: p.verificationCode(),
      };
      const state = joined
        ? "Admitted to the caucus."
        : wait > 0
          ? `Not admitted within ${wait} s: the device is kept and still waits for the mediator (run \`backchannel inbox\` later).`
          : "Waiting for the mediator to admit this device (run `backchannel inbox` later).";
      const human = `Invite redeemed; device ${p.deviceId} (“${p.name}”).\n${state}\nVerification code — compare it with the mediator out of band:\n${p.verificationCode()}`;
      if (!joined && wait > 0)
        outputFailure(o, data, human, admissionTimeout(wait, "the mediator did not admit this device"));
      output(o, data, human);
    });
}
