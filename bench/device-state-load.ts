import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStateStore } from "../src/sdk/index.js";
import { FileStateStore } from "../src/sdk/node.js";
import { startNetwork } from "../test/helpers/network.js";
import { signalText } from "./backchannel-load.js";
import { runLoad } from "./load.js";
import { round, summarize, trend } from "./stats.js";

export interface DeviceStateOptions {
  /** Sequential sends by one handler's device (the issue asks for 10,000). */
  events: number;
  /** Caucuses of the big mediator in the second part (the issue asks for 200). */
  caucuses: number;
  /** Notes the mediator sends at each size. */
  notes: number;
  progress(line: string): void;
}

export interface DeviceStateResult {
  events: number;
  firstTenthP50Ms: number;
  lastTenthP50Ms: number;
  /** Last tenth's p50 ÷ first tenth's: 1 means sends do not slow down as the transcript grows. */
  lastTenthOverFirstTenth: number;
  caucuses: { small: number; large: number; smallP50Ms: number; largeP50Ms: number };
  /** A mediator's send p50 with `caucuses` caucuses ÷ with 2. */
  largeOverSmall: number;
}

/**
 * Does a device's send cost grow with what it holds? Both parts keep state in the real encrypted
 * file keystore (FileStateStore), as the CLI does. First, one handler sends `events` signals one
 * after another: the p50 of the last tenth against the first. Second, the mediator sends notes
 * into one caucus while it holds 2 caucuses, then again once it holds `caucuses`.
 */
export async function measureDeviceState(opts: DeviceStateOptions): Promise<DeviceStateResult> {
  const dir = mkdtempSync(join(tmpdir(), "backchannel-bench-state-"));
  const passphrase = "bench passphrase: long enough for the policy";
  let made = 0;
  const fileStore = (who: string) => new FileStateStore(join(dir, `${who}-${++made}.keystore`), passphrase);
  try {
    opts.progress(`state: a handler with a file keystore sends ${opts.events} signals`);
    const flat = await (async () => {
      const net = await startNetwork({
        parties: ["A", "B"],
        topic: "bench",
        store: (who) => (who === "A" ? fileStore(who) : new MemoryStateStore()),
      });
      try {
        const a = net.handlers.A![0]!;
        const run = await runLoad([(i) => a.send({ text: signalText(i) })], opts.events);
        return { ...summarize(run), ...trend(run.latenciesMs) };
      } finally {
        await net.close();
      }
    })();
    opts.progress(
      `state:   first tenth p50 ${flat.firstTenthP50Ms} ms, last tenth p50 ${flat.lastTenthP50Ms} ms`,
    );

    opts.progress(`state: a mediator with 2 caucuses, then ${opts.caucuses}, sends ${opts.notes} notes`);
    const net = await startNetwork({ parties: ["A", "B"], topic: "bench", store: fileStore });
    try {
      const caucusId = net.caucus.A!;
      const notes = () =>
        runLoad([(i) => net.mediator.note(caucusId, `note ${String(i).padStart(7, "0")}`)], opts.notes);
      // Warm-up at the small size, so both runs start from a device that has sent before.
      await notes();
      const small = summarize(await notes());
      for (let n = 2; n < opts.caucuses; n += 2)
        await net.mediator.createChannel({ topic: `bench ${n}`, parties: ["X", "Y"] });
      const held = net.mediator.getSnapshot().channels.reduce((n, c) => n + c.caucuses.length, 0);
      const large = summarize(await notes());
      opts.progress(`state:   ${held} caucuses: p50 ${large.p50Ms} ms (2 caucuses: ${small.p50Ms} ms)`);
      return {
        events: flat.events,
        firstTenthP50Ms: flat.firstTenthP50Ms,
        lastTenthP50Ms: flat.lastTenthP50Ms,
        lastTenthOverFirstTenth: round(flat.lastTenthP50Ms / flat.firstTenthP50Ms),
        caucuses: { small: 2, large: held, smallP50Ms: small.p50Ms, largeP50Ms: large.p50Ms },
        largeOverSmall: round(large.p50Ms / small.p50Ms),
      };
    } finally {
      await net.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
