import { Option } from "@commander-js/extra-typings";
import pc from "picocolors";
import { Mediator } from "../../sdk/index.js";
import { nodePlatform } from "../../sdk/node.js";
import {
  admissionTimeout,
  homeDir,
  newStore,
  openMediator,
  output,
  outputFailure,
  waitSeconds,
} from "../context.js";
import type { Program } from "../global-options.js";

/** `backchannel mediator …`: the mediator's own devices (init, link, join, devices, remove-device). */
export function registerMediatorCommand(program: Program): void {
  const mediator = program.command("mediator").description("the mediator's device");
  mediator
    .command("init")
    .description("create this mediator's device and register it with a relay server")
    .addOption(
      new Option("--server <url>", "relay server URL").env("BACKCHANNEL_SERVER").makeOptionMandatory(),
    )
    .requiredOption("--name <name>", "how parties will see the mediator")
    .addOption(
      new Option(
        "--token <token>",
        "registration token from the relay's operator (a relay's registration is closed by default)",
      ).env("BACKCHANNEL_REGISTRATION_TOKEN"),
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await Mediator.create({
        serverUrl: o.server,
        name: o.name,
        ...(o.token ? { registrationToken: o.token } : {}),
        store: await newStore(o),
        platform: nodePlatform,
      });
      output(
        o,
        { deviceId: m.deviceId, role: m.role, home: homeDir(o), mediatorKey: m.mediatorKey },
        `Mediator device ${m.deviceId} registered with ${m.serverUrl}.\nKeystore: ${homeDir(o)} (encrypted, 0600).\nNext: backchannel channel create --topic "…" --party A --party B`,
      );
    });

  mediator
    .command("link")
    .description(
      "make a one-time code that sets up another device of this mediator (staff); it carries the mediator's key",
    )
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const { code, linkId } = await m.link();
      output(
        o,
        { code, linkId },
        `One-time link code for a new device of ${m.name}. It carries the mediator's identity key: show it once, only to the person setting up that device, over a channel you trust.\n\n${code}\n\nOn the new device: backchannel mediator join <code> --wait 60\nThen run \`backchannel inbox\` here to add it to every caucus.`,
      );
    });

  mediator
    .command("join")
    .description("create this device as another device of an existing mediator, from its link code")
    .argument(
      "<code>",
      "link code (bc1m-…) from `backchannel mediator link` on one of the mediator's devices",
    )
    .option("--server <url>", "relay server URL (default: the one in the code)")
    .option(
      "--wait <seconds>",
      "wait this long for another of the mediator's devices to add this one (exit 5 if none does)",
      "0",
    )
    .action(async (code, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const wait = waitSeconds(o.wait);
      const m = await Mediator.joinAsStaff({
        linkCode: code,
        store: await newStore(o),
        platform: nodePlatform,
        ...(o.server ? { serverUrl: o.server } : {}),
      });
      const joined = wait > 0 ? await m.waitUntilJoined(wait * 1000) : (await m.sync(), m.joined);
      const caucuses = m.caucusIds().length;
      const data = {
        deviceId: m.deviceId,
        role: m.role,
        home: homeDir(o),
        mediatorKey: m.mediatorKey,
        joined,
        channels: m.channels(),
      };
      const human = `Linked: device ${m.deviceId} is now one of ${m.name}'s devices (${m.serverUrl}).\nKeystore: ${homeDir(o)} (encrypted, 0600).\n${joined ? `In ${caucuses} caucus(es) of ${m.channels().length} channel(s); it reads each from now on.` : "Waiting for another of the mediator's devices to add this one: run `backchannel inbox` there, then here."}`;
      if (!joined && wait > 0)
        outputFailure(
          o,
          data,
          human,
          admissionTimeout(wait, "no other device of the mediator added this one"),
        );
      output(o, data, human);
    });

  mediator
    .command("devices")
    .description("this mediator's devices (staff), as the caucuses' rosters list them")
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      await m.sync();
      const devices = m.mediatorDevices();
      output(
        o,
        { devices },
        devices
          .map(
            (d) =>
              `${d.deviceId}${d.thisDevice ? pc.bold(" (this device)") : ""} — in ${d.caucuses.length} caucus(es)`,
          )
          .join("\n"),
      );
    });

  mediator
    .command("remove-device")
    .description(
      "remove another device of this mediator (re-keys every caucus it is in; it can read nothing sent afterwards)",
    )
    .argument("<id>", "the device id (see `backchannel mediator devices`)")
    .action(async (id, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const m = await openMediator(o);
      const { caucusIds } = await m.removeMediatorDevice(id);
      output(
        o,
        { removed: id, caucusIds },
        `Removed device ${id}: ${caucusIds.length} caucus(es) re-keyed; it can read nothing sent from now on.`,
      );
    });
}
