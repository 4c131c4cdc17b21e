import pc from "picocolors";
import { describeProblem, type TranscriptProblem } from "../protocol/index.js";
import {
  attributionWords,
  disclosureWords,
  entryViews,
  modeWords,
  notConveyedWords,
  receiptWords,
  signalKindWords,
  skippedWords,
  burntWords,
  verdictWords,
  type EntryView,
  type TranscriptEntry,
} from "../sdk/index.js";

/**
 * Human rendering of a transcript. Every signal, conveyance and acknowledgement shows its stance
 * in plain words (invariant 4), and a transcript problem is shown first, in red, never hidden.
 */

export interface RenderContext {
  selfDeviceId: string;
  /** For the mediator: the party name of this caucus. */
  partyName?: string;
  role: "mediator" | "party";
  /** event id → sequence number, so a receipt can point back at the signal it is for. */
  seqByEventId?: Map<string, number>;
}

function who(e: TranscriptEntry, ctx: RenderContext): string {
  if (e.senderDeviceId === ctx.selfDeviceId) return "you";
  if (e.senderRole === "mediator") return "the mediator";
  return ctx.role === "mediator" ? `${ctx.partyName ?? "party"}'s handler` : "your party (another handler)";
}

const quote = (t: string) => `“${t}”`;
const indent = (lines: string[]) => lines.map((l) => `    ${l}`);

export function renderView(v: EntryView, ctx: RenderContext): string[] {
  const e = v.entry;
  const head = `${pc.dim(`#${e.seq}`)} ${who(e, ctx)}`;
  const b = v.body;
  if (e.skipped) return [`${head} ${pc.yellow(`· WARNING: ${skippedWords(e.skipped, who(e, ctx))}`)}`];
  if (e.burnt) return [`${head} ${pc.dim(`· ${burntWords(e.burnt)}`)}`];
  if (!b) {
    const m = e.membership;
    const parts = [
      m?.added.length ? `added ${m.added.length} device(s)` : "",
      m?.removed.length ? `removed ${m.removed.length} device(s)` : "",
    ].filter(Boolean);
    return [
      `${head} ${pc.dim(`· membership change${parts.length ? `: ${parts.join(", ")}` : ""} (caucus re-keyed)`)}`,
    ];
  }
  switch (b.type) {
    case "signal":
      return [
        `${head} · ${pc.bold(signalKindWords[b.signalKind].toLowerCase())}${b.onBehalfOf ? ` on behalf of ${b.onBehalfOf}` : ""}`,
        ...indent([
          quote(b.text),
          `stance: ${v.stanceText}`,
          `disclosure: ${disclosureWords[b.disclosure]} · attribution: ${attributionWords[b.attribution]}${b.expiresAt ? ` · expires ${b.expiresAt}` : ""}`,
          ...receiptLines(v, ctx),
        ]),
      ];
    case "conveyance":
      return [
        `${head} · ${pc.bold(`conveyed ${b.source}`)} from ${b.fromParty ?? "a party"} (${modeWords[b.mode]})`,
        ...indent([
          quote(b.text),
          `stance: ${v.stanceText}`,
          ...(b.expiresAt ? [`expires ${b.expiresAt}`] : []),
          v.acknowledgements.length
            ? pc.green(`acknowledged (#${v.acknowledgements.map((a) => a.seq).join(", #")})`)
            : pc.yellow("not acknowledged"),
        ]),
      ];
    case "receipt":
      return [
        `${head} · ${pc.bold("receipt")} for #${ctx.seqByEventId?.get(b.sourceEventId) ?? "?"}: ${receiptWords(b, ctx.role, ctx.partyName)}`,
        ...indent([
          `exact words used: ${quote(b.text)}`,
          ...(ctx.role === "party"
            ? [pc.dim("This receipt is the mediator's report of what it said in your name.")]
            : []),
        ]),
      ];
    case "acknowledgement":
      return [
        `${head} · ${pc.bold("acknowledgement")}`,
        ...indent([
          b.text ? quote(b.text) : "(received, no text)",
          `stance: ${v.stanceText}`,
          `disclosure: ${disclosureWords[b.disclosure]} · attribution: ${attributionWords[b.attribution]}`,
          ...receiptLines(v, ctx),
        ]),
      ];
    case "channel_info":
      return [
        `${head} · ${pc.bold("channel")}: “${b.topic}” — this caucus is ${b.partyName}'s line to ${b.mediatorName}`,
      ];
    case "understanding_proposal":
      return [
        `${head} · ${pc.bold("proposed understanding")} ${pc.dim(b.understandingId)}`,
        ...indent([quote(b.text)]),
      ];
    case "endorsement":
      return [
        `${head} · ${pc.bold("endorsed understanding")} ${pc.dim(b.understandingId)}`,
        ...indent([quote(b.text)]),
      ];
    case "understanding_reached":
      return [
        `${head} · ${pc.bold("understanding reached")}: every party endorsed ${pc.dim(b.understandingId)}`,
        ...indent([quote(b.text)]),
      ];
    case "note":
      return [`${head} · note`, ...indent([quote(b.text)])];
    case "heartbeat":
      // The mediator's sign of life carries no words: not shown in the transcript.
      return [];
  }
}

function receiptLines(v: EntryView, ctx: RenderContext): string[] {
  if (!v.receipts.length)
    return [pc.dim(v.conveyability ? notConveyedWords(v.conveyability) : "Not conveyed yet.")];
  // Receipts are always shown; one that breaks what the sender allowed is evidence, shown in red.
  return v.receipts.map(({ entry, receipt, verdict }) => {
    const line = `${receiptWords(receipt, ctx.role, ctx.partyName)} (#${entry.seq}): ${quote(receipt.text)}`;
    return verdict.within
      ? pc.green(line)
      : pc.red(`${line} — ${verdictWords(verdict, ctx.role).toUpperCase()}`);
  });
}

export function renderTranscript(
  entries: readonly TranscriptEntry[],
  ctx: RenderContext,
  problem?: TranscriptProblem,
): string {
  const withIndex = { ...ctx, seqByEventId: new Map(entries.map((e) => [e.eventId, e.seq])) };
  const lines: string[] = [];
  if (problem)
    lines.push(
      pc.red(pc.bold(`TRANSCRIPT PROBLEM — ${describeProblem(problem)}`)),
      pc.red("Nothing after this point is shown as normal."),
    );
  const views = entryViews(entries);
  if (!views.length) lines.push(pc.dim("(no events yet)"));
  for (const v of views) lines.push(...renderView(v, withIndex));
  return lines.join("\n");
}
