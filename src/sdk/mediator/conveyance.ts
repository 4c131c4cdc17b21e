import { newEventId, type Attachment, type EventBody } from "../../protocol/index.js";
import { fetchAttachment, uploadAll, type FileSource } from "../attachments.js";
import { SdkError } from "../errors.js";
import type { DeviceCore } from "../core/device-core.js";
import { sendEvent } from "../core/outbound.js";
import { syncAll, syncCaucus } from "../core/transcript-sync.js";
import type { PendingConveyance, TranscriptEntry } from "../device-state.js";
import { channelOf } from "./channels.js";
import { planConveyance, type ConveyOptions } from "./conveyance-plan.js";

/** A target the conveyance has not reached (yet): shown to the mediator, retried on every sync. */
export interface Undelivered {
  caucusId: string;
  partyName: string;
  /** The code of the last failure. */
  error: string | undefined;
}

export interface ConveyResult {
  /** The conveyances now in the verified transcripts of their target caucuses. */
  conveyances: TranscriptEntry[];
  /** The receipt posted into the source caucus, naming exactly those targets (none if nothing landed). */
  receipt: TranscriptEntry | undefined;
  undelivered: Undelivered[];
}

/**
 * Conveys a signal or acknowledgement into other caucuses, enforcing what its sender allowed, then
 * posts the receipt (the exact words used, and how they were attributed) into the source — naming
 * only the targets whose conveyance is in this device's verified transcript of their caucus. A
 * target the relay refuses, or a line that fails, is left pending: shown to the mediator, retried
 * on every sync, and receipted when it lands (the caller holds the lock).
 */
export async function convey(core: DeviceCore, opts: ConveyOptions): Promise<ConveyResult> {
  await syncAll(core);
  const source = core.caucus(opts.from).record.entries.find((e) => e.eventId === opts.eventId);
  const channel = channelOf(core, opts.from);
  const plan = planConveyance(opts, source, channel);
  const partyName = (id: string) => channel.caucuses.find((c) => c.caucusId === id)!.partyName;
  // Files first, into each target caucus (new blobs; the same bytes, checked against their hash
  // on the way through this device): the conveyance names them once they are all up.
  const files = new Map<string, Attachment[]>();
  for (const caucusId of plan.targets)
    files.set(caucusId, await uploadFiles(core, opts, plan.sourceFiles, caucusId));
  const sent = files.get(plan.targets[0]!) ?? [];
  // Every id is chosen and kept before anything is sent: after a crash or a lost answer, the same
  // events are sent again and the relay stores each once.
  const pending: PendingConveyance = {
    id: crypto.randomUUID(),
    sourceCaucusId: opts.from,
    sourceEventId: opts.eventId,
    conveyance: plan.conveyance,
    ...(plan.deleteAt ? { deleteAt: plan.deleteAt } : {}),
    receipt: {
      mode: plan.receipt.mode,
      text: plan.receipt.text,
      attributedAs: plan.receipt.attributedAs,
      // Exactly the files every target got: each one's name, size and SHA-256.
      ...(sent.length ? { attachments: sent.map(({ name, size, sha256 }) => ({ name, size, sha256 })) } : {}),
    },
    targets: plan.targets.map((caucusId) => ({
      caucusId,
      partyName: partyName(caucusId),
      eventId: crypto.randomUUID(),
      ...(files.get(caucusId)?.length ? { attachments: files.get(caucusId) } : {}),
      delivered: false,
      receipted: false,
    })),
  };
  core.state.pendingConveyances.push(pending);
  await core.save();
  return advance(core, pending);
}

/**
 * Uploads into one target caucus the source's files (streamed down from the source caucus,
 * decrypted and checked, sealed again under a new key) and the mediator's own.
 */
async function uploadFiles(
  core: DeviceCore,
  opts: ConveyOptions,
  sourceFiles: readonly Attachment[],
  caucusId: string,
): Promise<Attachment[]> {
  const fromSource: FileSource[] = sourceFiles.map((a) => ({
    name: a.name,
    type: a.type,
    size: a.size,
    data: () => fetchAttachment(core, opts.from, a),
  }));
  const uploaded = (await uploadAll(core, caucusId, [...fromSource, ...(opts.ownFiles ?? [])])) ?? [];
  for (const [i, a] of sourceFiles.entries())
    if (uploaded[i]!.sha256 !== a.sha256)
      throw new SdkError("attachment_invalid", `${a.name} changed on its way through this device`);
  return uploaded;
}

/** Resumes every conveyance still pending (on each sync); never throws, the next sync tries again. */
export async function resumeConveyances(core: DeviceCore): Promise<void> {
  for (const pending of [...core.state.pendingConveyances]) {
    try {
      await advance(core, pending);
    } catch {
      // Recorded on the pending conveyance where it matters; the mediator sees it as pending.
    }
  }
}

async function advance(core: DeviceCore, pending: PendingConveyance): Promise<ConveyResult> {
  const conveyances: TranscriptEntry[] = [];
  for (const target of pending.targets) {
    if (target.delivered) continue;
    const body = {
      ...pending.conveyance,
      ...(target.attachments ? { attachments: target.attachments } : {}),
    };
    const entry = await deliver(core, target.caucusId, body, target.eventId, pending.deleteAt);
    if ("error" in entry) {
      target.lastError = entry.error;
    } else {
      target.delivered = true;
      delete target.lastError;
      conveyances.push(entry.entry);
    }
    await core.save();
  }
  let receipt: TranscriptEntry | undefined;
  const due = pending.targets.filter((t) => t.delivered && !t.receipted).map((t) => t.caucusId);
  if (!pending.receiptDue && due.length) {
    pending.receiptDue = { eventId: crypto.randomUUID(), caucusIds: due };
    await core.save();
  }
  if (pending.receiptDue) {
    const { eventId, caucusIds } = pending.receiptDue;
    const body: EventBody = {
      type: "receipt",
      sourceEventId: pending.sourceEventId,
      ...pending.receipt,
      toParties: caucusIds.map((id) => pending.targets.find((t) => t.caucusId === id)!.partyName),
    };
    const posted = await deliver(core, pending.sourceCaucusId, body, eventId);
    if ("entry" in posted) {
      receipt = posted.entry;
      for (const t of pending.targets) if (caucusIds.includes(t.caucusId)) t.receipted = true;
      pending.receiptDue = undefined;
    }
  }
  if (pending.targets.every((t) => t.delivered && t.receipted) && !pending.receiptDue)
    core.state.pendingConveyances = core.state.pendingConveyances.filter((p) => p.id !== pending.id);
  await core.save();
  return {
    conveyances,
    receipt,
    undelivered: pending.targets
      .filter((t) => !t.delivered)
      .map((t) => ({ caucusId: t.caucusId, partyName: t.partyName, error: t.lastError })),
  };
}

/**
 * Sends one event with a fixed id, and reports it delivered only once it is in this device's
 * verified transcript: after a failure, the transcript is read again, since the answer may have
 * been lost after the relay stored it.
 */
async function deliver(
  core: DeviceCore,
  caucusId: string,
  body: EventBody,
  eventId: string,
  deleteAt?: string,
): Promise<{ entry: TranscriptEntry } | { error: string }> {
  const found = () => core.caucus(caucusId).record.entries.find((e) => e.eventId === eventId);
  const already = found();
  if (already) return { entry: already };
  try {
    return { entry: await sendEvent(core, caucusId, body, eventId, deleteAt) };
  } catch (e) {
    const error = (e as { code?: unknown }).code;
    try {
      await syncCaucus(core, caucusId);
    } catch {
      // The relay is unreachable: not delivered, as far as this device can tell.
    }
    const landed = found();
    return landed ? { entry: landed } : { error: typeof error === "string" ? error : "internal" };
  }
}

/** Receipts owed under an earlier version (receipt first, then conveyances) still go out. */
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
