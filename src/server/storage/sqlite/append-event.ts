import { createHash } from "node:crypto";
import { linkPreimage } from "../../../protocol/index.js";
import { ServerError, forbidden, notFound } from "../../errors.js";
import type { AppendEventInput, AppendEventResult } from "../storage.js";
import { bytes, readCaucus, readMembership } from "./reads.js";
import type { Statements } from "./statements.js";

/**
 * The body of Storage.appendEvent (rules on AppendEventInput). Synchronous, and must run inside
 * one immediate transaction: every check reads state that the writes below then depend on.
 */
export function appendEventSync(stmt: Statements, input: AppendEventInput): AppendEventResult {
  const caucus = readCaucus(stmt, input.caucusId);
  const sender = caucus && readMembership(stmt, input.caucusId, input.senderDeviceId);
  if (!caucus || !sender || !sender.joined || sender.removed) throw notFound();

  // Idempotency comes before the epoch rules: a retried commit must get its original answer,
  // not epoch_conflict against the epoch it itself advanced.
  const existing = stmt.findEvent.get(input.caucusId, input.eventId) as
    { seq: number; sender_device_id: string; hash: string } | undefined;
  if (existing) {
    if (existing.sender_device_id !== input.senderDeviceId) {
      throw new ServerError("event_id_conflict", "event id already used in this caucus");
    }
    return { seq: existing.seq, hash: existing.hash, duplicate: true };
  }

  let nextEpoch = caucus.epoch;
  if (input.kind === "application") {
    if (input.welcomes.length > 0 || input.removes.length > 0) {
      throw new ServerError("invalid_request", "welcomes and removes are only allowed on commits");
    }
    if (input.epoch !== caucus.epoch) {
      throw new ServerError(
        "stale_epoch",
        `application message is for epoch ${input.epoch}; the caucus is at epoch ${caucus.epoch}`,
      );
    }
  } else {
    if (sender.role !== "mediator") throw forbidden("only mediator devices may commit");
    if (input.epoch !== caucus.epoch) {
      throw new ServerError(
        "epoch_conflict",
        `commit is for epoch ${input.epoch}; the caucus is at epoch ${caucus.epoch}`,
      );
    }
    nextEpoch = caucus.epoch + 1;
    checkRosterChanges(stmt, input);
  }

  if (input.after && (input.after.seq !== caucus.head.seq || input.after.hash !== caucus.head.hash)) {
    throw new ServerError("head_moved", `the chain head is no longer #${input.after.seq}`);
  }
  const seq = caucus.head.seq + 1;
  const ciphertext = bytes(input.ciphertext);
  // protocol's linkHash, with node:crypto's SHA-256 (the hash chain's cost on the append path).
  const hash = sha256Hex(
    linkPreimage(
      caucus.head.hash,
      {
        caucusId: input.caucusId,
        seq,
        eventId: input.eventId,
        senderDeviceId: input.senderDeviceId,
        kind: input.kind,
        epoch: input.epoch,
      },
      sha256Hex(ciphertext),
    ),
  );
  stmt.insertEvent.run(
    input.caucusId,
    seq,
    input.eventId,
    input.senderDeviceId,
    input.kind,
    input.epoch,
    ciphertext,
    hash,
  );
  stmt.advanceHead.run(seq, hash, nextEpoch, input.caucusId);
  for (const w of input.welcomes) {
    // The commit itself is from the epoch before the device joined: it reads from the next event.
    stmt.joinMember.run(seq + 1, input.caucusId, w.deviceId);
    stmt.insertWelcome.run(input.caucusId, w.deviceId, bytes(w.welcome), seq, hash, w.anchorProof ?? null);
  }
  for (const d of input.removes) stmt.removeMember.run(input.caucusId, d);
  for (const p of input.removalProofs ?? [])
    stmt.setRemovalProof.run(p.signature, input.caucusId, p.deviceId);
  return { seq, hash, duplicate: false };
}

const sha256Hex = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** Validates every welcome and removal before anything is written. */
function checkRosterChanges(stmt: Statements, input: AppendEventInput): void {
  const seen = new Set<string>();
  for (const deviceId of [...input.welcomes.map((w) => w.deviceId), ...input.removes]) {
    if (seen.has(deviceId)) {
      throw new ServerError("invalid_request", `device ${deviceId} appears twice in this commit`);
    }
    seen.add(deviceId);
  }
  for (const w of input.welcomes) {
    const m = readMembership(stmt, input.caucusId, w.deviceId);
    if (!m || m.joined || m.removed) {
      throw new ServerError(
        "invalid_request",
        `welcome for ${w.deviceId}: not a device waiting to join this caucus`,
      );
    }
  }
  for (const p of input.removalProofs ?? []) {
    if (!input.removes.includes(p.deviceId))
      throw new ServerError(
        "invalid_request",
        `removal proof for ${p.deviceId}: this commit does not remove it`,
      );
  }
  for (const deviceId of input.removes) {
    const m = readMembership(stmt, input.caucusId, deviceId);
    // A pending mediator device is in no MLS group yet: it leaves through
    // DELETE /v1/mediator-devices instead.
    if (!m || m.removed || (m.role === "mediator" && !m.joined)) {
      throw new ServerError("invalid_request", `remove ${deviceId}: not a current member of this caucus`);
    }
    // MLS forbids a commit removing its own committer; this also means the sender, a mediator
    // device, always stays, so a caucus can never lose its last mediator device.
    if (deviceId === input.senderDeviceId) {
      throw new ServerError("invalid_request", "a device cannot remove itself");
    }
  }
}
