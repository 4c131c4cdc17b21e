import type { Command } from "commander";
import { writeFileSync } from "node:fs";
import pc from "picocolors";
import { describeProblem, describeStance } from "../../protocol/index.js";
import { Mediator, Party, watch, type Device } from "../../sdk/index.js";
import { nodePlatform } from "../../sdk/node.js";
import {
  CliError,
  homeDir,
  newStore,
  openDevice,
  openMediator,
  output,
  commandOptions,
  selectedCaucuses,
} from "../context.js";
import { renderTranscript } from "../render.js";

const g = commandOptions;

function caucusTitle(d: Device, caucusId: string): string {
  const r = d.caucus(caucusId);
  const title =
    d instanceof Mediator
      ? `${r.partyName ?? "?"} — caucus ${caucusId} (“${r.topic ?? ""}”)`
      : `your caucus with ${r.mediatorName ?? "the mediator"}${r.topic ? ` — “${r.topic}”` : ""}${r.partyName ? ` — you speak for ${r.partyName}` : ""}`;
  return r.removed
    ? `${title} ${pc.red("— this device was removed from the caucus; it can read nothing sent since")}`
    : title;
}

export function registerDeviceCommands(program: Command): void {
  const mediator = program.command("mediator").description("the mediator's device");
  mediator
    .command("init")
    .description("create this mediator's device and register it with a relay server")
    .requiredOption("--server <url>", "relay server URL", process.env.BACKCHANNEL_SERVER)
    .requiredOption("--name <name>", "how parties will see the mediator")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const m = await Mediator.create({
        serverUrl: String(o.server),
        name: String(o.name),
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
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
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
    .option("--wait <seconds>", "wait this long for another of the mediator's devices to add this one", "0")
    .action(async (code: string, _o, cmd: Command) => {
      const o = g(cmd);
      const m = await Mediator.joinAsStaff({
        linkCode: code,
        store: await newStore(o),
        platform: nodePlatform,
        ...(o.server ? { serverUrl: String(o.server) } : {}),
      });
      const joined =
        Number(o.wait) > 0 ? await m.waitUntilJoined(Number(o.wait) * 1000) : (await m.sync(), m.joined);
      const caucuses = m.caucusIds().length;
      output(
        o,
        {
          deviceId: m.deviceId,
          role: m.role,
          home: homeDir(o),
          mediatorKey: m.mediatorKey,
          joined,
          channels: m.channels(),
        },
        `Linked: device ${m.deviceId} is now one of ${m.name}'s devices (${m.serverUrl}).\nKeystore: ${homeDir(o)} (encrypted, 0600).\n${joined ? `In ${caucuses} caucus(es) of ${m.channels().length} channel(s); it reads each from now on.` : "Waiting for another of the mediator's devices to add this one: run `backchannel inbox` there, then here."}`,
      );
    });

  mediator
    .command("devices")
    .description("this mediator's devices (staff), as the caucuses' rosters list them")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
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
    .action(async (id: string, _o, cmd: Command) => {
      const o = g(cmd);
      const m = await openMediator(o);
      const { caucusIds } = await m.removeMediatorDevice(id);
      output(
        o,
        { removed: id, caucusIds },
        `Removed device ${id}: ${caucusIds.length} caucus(es) re-keyed; it can read nothing sent from now on.`,
      );
    });

  program
    .command("join")
    .description("join a caucus as a party's designated handler, with the invite code the mediator gave you")
    .argument("<code>", "invite code (bc1-…)")
    .option("--name <label>", "your own label for this device (never shown to other parties)", "handler")
    .option("--wait <seconds>", "wait this long for the mediator to admit you", "0")
    .action(async (code: string, _o, cmd: Command) => {
      const o = g(cmd);
      const p = await Party.join({
        inviteCode: code,
        name: String(o.name),
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

  program
    .command("whoami")
    .alias("identity")
    .description("this device: role, id, keys and verification codes")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
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

  program
    .command("inbox")
    .alias("sync")
    .description(
      "fetch, verify and show the transcript of each caucus (the mediator also admits invited handlers and its own new devices)",
    )
    .option("--caucus <id or party>", "only this caucus")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const d = await openDevice(o);
      await d.sync();
      const ids = selectedCaucuses(d, o.caucus);
      if (d instanceof Party && !d.joined) {
        output(
          o,
          { joined: false, caucuses: [] },
          "Not admitted yet: the mediator has to run `backchannel inbox` (or be online) to admit this device.",
        );
        return;
      }
      output(
        o,
        { caucuses: ids.map((c) => ({ ...summary(d, c), entries: d.entries(c) })) },
        ids
          .map(
            (c) =>
              `${pc.bold(caucusTitle(d, c))}\n${renderTranscript(d.entries(c), { selfDeviceId: d.deviceId, role: d.role, partyName: d.caucus(c).partyName }, d.caucus(c).problem)}`,
          )
          .join("\n\n") || "No caucuses yet.",
      );
    });

  program
    .command("watch")
    .description("stay connected and print events as they arrive (Ctrl-C to stop)")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
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

  program
    .command("verify")
    .description(
      "re-read every transcript from the server and check its hash chain against what this device verified before",
    )
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const d = await openDevice(o);
      const reports = await d.verify();
      output(
        o,
        { ok: reports.every((r) => r.ok), caucuses: reports },
        reports
          .map((r) =>
            r.ok
              ? pc.green(
                  `✔ ${caucusTitle(d, r.caucusId)}: ${r.events} events verified, head #${r.head.seq} ${r.head.hash.slice(0, 16)}…`,
                )
              : pc.red(`✘ ${caucusTitle(d, r.caucusId)}: ${describeProblem(r.problem!)}`),
          )
          .join("\n") || "No caucuses to verify.",
      );
      if (!reports.every((r) => r.ok))
        throw new CliError("transcript_problem", "a transcript failed verification", 3);
    });

  program
    .command("export")
    .description("export verified transcripts as JSON (every signal with its stance)")
    .option("--caucus <id or party>", "only this caucus")
    .option("--out <file>", "write to a file instead of stdout")
    .action(async (_o, cmd: Command) => {
      const o = g(cmd);
      const d = await openDevice(o);
      await d.sync();
      const doc = {
        exportedAt: new Date().toISOString(),
        deviceId: d.deviceId,
        role: d.role,
        caucuses: selectedCaucuses(d, o.caucus).map((c) => ({
          ...summary(d, c),
          anchor: d.caucus(c).anchor,
          events: d.entries(c).map((e) => {
            const b = e.payload?.body;
            return { ...e, ...(b && "stance" in b ? { stanceText: describeStance(b.stance) } : {}) };
          }),
        })),
      };
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      if (o.out) {
        writeFileSync(String(o.out), text, { mode: 0o600 });
        process.stdout.write(o.json ? `${JSON.stringify({ written: o.out })}\n` : `Wrote ${String(o.out)}\n`);
      } else process.stdout.write(text);
    });
}

function summary(d: Device, caucusId: string) {
  const r = d.caucus(caucusId);
  return {
    caucusId,
    partyName: r.partyName,
    topic: r.topic,
    head: r.head,
    verified: !r.problem,
    ...(r.problem ? { problem: r.problem, problemText: describeProblem(r.problem) } : {}),
  };
}
