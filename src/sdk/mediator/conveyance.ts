import { newEventId, type EventBody } from "../../protocol/index.js";
import type { DeviceCore } from "../core/device-core.js";
import { sendEvent } from "../core/outbound.js";
import { syncAll } from "../core/transcript-sync.js";
import type { TranscriptEntry } from "../device-state.js";
import { channelOf } from "./channels.js";
import { planConveyance, type ConveyOptions } from "./conveyance-plan.js";

/**
 * Conveys a signal or acknowledgement into other caucuses, enforcing what its sender allowed,
 * then posts the receipt (the exact words used, and how they were attributed) into the source
 * (the caller holds the lock).
 */
export async function convey(
  core: DeviceCore,
  opts: ConveyOptions,
): Promise<{ conveyances: TranscriptEntry[]; receipt: TranscriptEntry }> {
  await syncAll(core);
  const source = core.caucus(opts.from).record.entries.find((e) => e.eventId === opts.eventId);
  const { targets, conveyance, receipt } = planConveyance(opts, source, channelOf(core, opts.from));
  // The receipt is owed from the moment the first conveyance may land (survives a crash).
  const receiptId = crypto.randomUUID();
  core.state.owedReceipts.push({ caucusId: opts.from, eventId: receiptId, body: receipt });
  await core.save();
  const conveyances: TranscriptEntry[] = [];
  for (const target of targets) conveyances.push(await sendEvent(core, target, conveyance));
  const receiptEntry = await sendEvent(core, opts.from, receipt, receiptId);
  core.state.owedReceipts = core.state.owedReceipts.filter((r) => r.eventId !== receiptId);
  await core.save();
  return { conveyances, receipt: receiptEntry };
}

/** Receipts owed for conveyances already made (a crash between the two sends) go out first. */
export async function flushOwedReceipts(core: DeviceCore): Promise<void> {
  while (core.state.owedReceipts.length) {
    const owed = core.state.owedReceipts[0]!;
    if (core.hasCaucus(owed.caucusId)) {
      const { record } = core.caucus(owed.caucusId);
      if (!record.entries.some((e) => e.eventId === owed.eventId)) {
        // Owed since before event ids became random: the relay refuses a v7 id now, and the
        // entries show it never landed, so it goes out under a new one.
        const id = newEventId.safeParse(owed.eventId).success ? owed.eventId : crypto.randomUUID();
        await sendEvent(core, owed.caucusId, owed.body as EventBody, id);
      }
    }
    core.state.owedReceipts.shift();
    await core.save();
  }
}
