import { describeProblem, fromBase64Url, toBase64Url, type TranscriptProblem } from "../../protocol/index.js";
import { CaucusGroup } from "../../crypto/mls/caucus-group.js";
import { verificationCode } from "../../crypto/verification-code.js";
import type { CaucusRecord, Head, TranscriptEntry } from "../device-state.js";
import { SdkError } from "../errors.js";
import { entryViews, type EntryView } from "../views.js";

/** A handler's device in a caucus, as the MLS roster says: the mediator's eyes only. */
export interface HandlerView {
  readonly deviceId: string;
  readonly handlerKey: string;
  /** What the mediator and the handler compare out of band (see crypto/verification-code.ts). */
  readonly verificationCode: string;
}

/** A device of the mediator (its staff) in a caucus's MLS roster. */
export interface RosterMediatorDevice {
  readonly deviceId: string;
  readonly mlsKey: string;
}

/**
 * An immutable snapshot of one caucus as this device verified it. Renderers read these and
 * nothing else: no stored record, no MLS state, no crypto while rendering.
 */
export interface CaucusView {
  readonly caucusId: string;
  readonly channelId?: string;
  readonly partyName?: string;
  readonly topic?: string;
  readonly mediatorName?: string;
  /** This device holds the caucus's group state (it was admitted and is still a member). */
  readonly joined: boolean;
  readonly removed: boolean;
  /**
   * The relay refuses this device the caucus (the code it gave) but the mediator has not said it
   * was removed: the device keeps everything and tries again on the next sync.
   */
  readonly accessRefused?: string;
  /**
   * Nothing from the mediator since this time (ISO), for longer than the liveness bound: the relay
   * may be withholding newer events from this device, or the mediator is offline.
   */
  readonly quietSince?: string;
  /** The mediator closed the channel: nothing more can be sent (README "Retention"). */
  readonly closed?: boolean;
  readonly problem?: TranscriptProblem;
  /** The problem in words, for display. */
  readonly problemText?: string;
  /** Where this device's view begins (its join commit), and the last verified event. */
  readonly anchor: Head;
  readonly head: Head;
  readonly entries: readonly TranscriptEntry[];
  readonly views: readonly EntryView[];
  /** Handler devices in the roster (with their verification codes). */
  readonly handlers: readonly HandlerView[];
  /** The mediator's devices in the roster. */
  readonly mediatorDevices: readonly RosterMediatorDevice[];
}

// 5,200 SHA-512 per code: computed once per key pair, never per render.
const codes = new Map<string, string>();
export function cachedVerificationCode(mediatorKey: string, handlerKey: string): string {
  const k = `${mediatorKey}:${handlerKey}`;
  let code = codes.get(k);
  if (code === undefined) {
    code = verificationCode(fromBase64Url(mediatorKey), fromBase64Url(handlerKey));
    codes.set(k, code);
  }
  return code;
}

/**
 * One caucus of a device: owns its stored record, restores the MLS group from it once per state
 * (a CaucusGroup is immutable, so the restored group is reused until the state changes), and hands
 * out view snapshots that change identity only when the caucus changed.
 */
export class Caucus {
  private restored: { serialized: string; group: CaucusGroup } | undefined;
  private snapshot: { key: readonly unknown[]; view: CaucusView } | undefined;

  constructor(
    readonly record: CaucusRecord,
    private readonly mediatorKey: string,
  ) {}

  get caucusId(): string {
    return this.record.caucusId;
  }

  /** The MLS group at this device's current state, or undefined (not joined, or removed). */
  group(): CaucusGroup | undefined {
    const serialized = this.record.group;
    if (!serialized) return undefined;
    if (this.restored?.serialized !== serialized)
      this.restored = {
        serialized,
        group: CaucusGroup.restore(
          { mediatorKey: this.mediatorKey, caucusId: this.caucusId },
          fromBase64Url(serialized),
        ),
      };
    return this.restored.group;
  }

  setGroup(group: CaucusGroup | undefined): void {
    if (!group) {
      this.record.group = undefined;
      this.restored = undefined;
      return;
    }
    const serialized = toBase64Url(group.serialize());
    this.record.group = serialized;
    this.restored = { serialized, group };
  }

  /**
   * The group to send or commit with; refuses on a removed, broken or not yet joined caucus.
   * `evenIfBroken`: a removal may still be committed into a caucus whose transcript has a problem
   * (the mediator can always take a device out).
   */
  usableGroup(opts: { evenIfBroken?: boolean } = {}): CaucusGroup {
    const r = this.record;
    if (r.removed) throw new SdkError("removed", "this device was removed from the caucus");
    if (r.problem && !opts.evenIfBroken)
      throw new SdkError(
        "transcript_broken",
        "the caucus transcript failed verification; refusing to send until it is resolved",
      );
    const group = this.group();
    if (!group)
      throw new SdkError(
        "not_joined",
        "this device has not joined the caucus yet (waiting for the mediator to admit it)",
      );
    group.assertRosterTrusted();
    return group;
  }

  markRemoved(): void {
    this.record.removed = true;
    this.setGroup(undefined);
  }

  /** The current snapshot; the same object until something in the caucus changes. */
  view(): CaucusView {
    const r = this.record;
    const key = [
      r.entries.length,
      r.head.hash,
      r.anchor.hash,
      r.group,
      r.problem,
      r.removed,
      r.accessRefused,
      r.quietSince,
      r.topic,
      r.partyName,
      r.mediatorName,
      r.channelId,
      r.closed,
      // Burning changes entries in place (core/burn.ts).
      r.entries.reduce((n, e) => (e.burnt ? n + 1 : n), 0),
    ];
    if (this.snapshot && key.every((k, i) => k === this.snapshot!.key[i])) return this.snapshot.view;
    const roster = this.group()?.roster() ?? [];
    const entries = Object.freeze([...r.entries]);
    const view: CaucusView = Object.freeze({
      caucusId: r.caucusId,
      ...(r.channelId ? { channelId: r.channelId } : {}),
      ...(r.partyName ? { partyName: r.partyName } : {}),
      ...(r.topic ? { topic: r.topic } : {}),
      ...(r.mediatorName ? { mediatorName: r.mediatorName } : {}),
      joined: !!r.group,
      removed: r.removed,
      ...(r.accessRefused ? { accessRefused: r.accessRefused } : {}),
      ...(r.quietSince ? { quietSince: r.quietSince } : {}),
      ...(r.closed ? { closed: true } : {}),
      ...(r.problem ? { problem: r.problem, problemText: describeProblem(r.problem) } : {}),
      anchor: r.anchor,
      head: r.head,
      entries,
      views: Object.freeze(entryViews(entries)),
      handlers: Object.freeze(
        roster.flatMap((m) =>
          m.credential?.role === "party"
            ? [
                {
                  deviceId: m.credential.deviceId,
                  handlerKey: m.credential.handlerKey,
                  verificationCode: cachedVerificationCode(this.mediatorKey, m.credential.handlerKey),
                },
              ]
            : [],
        ),
      ),
      mediatorDevices: Object.freeze(
        roster.flatMap((m) =>
          m.credential?.role === "mediator"
            ? [{ deviceId: m.credential.deviceId, mlsKey: toBase64Url(m.mlsKey) }]
            : [],
        ),
      ),
    });
    // Problem and head objects are replaced, never mutated, so identity is a fair change test.
    this.snapshot = { key, view };
    return view;
  }
}
