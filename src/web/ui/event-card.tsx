import type { ReactNode } from "react";
import {
  attributionWords,
  disclosureWords,
  modeWords,
  notConveyedWords,
  receiptWords,
  signalKindWords,
  skippedWords,
  burntWords,
  verdictWords,
  type Device,
  type EntryView,
} from "../../sdk/index.js";
import { AttachmentList, FileSummaries } from "./attachment-list.js";
import { EventTimes } from "./event-times.js";
import { formatTime, plural } from "./words.js";

export interface CardContext {
  selfDeviceId: string;
  viewer: "mediator" | "party";
  partyName?: string;
  seqOf: (eventId: string) => number | undefined;
  /** The device and caucus the card is in: what fetches its attached files. */
  files?: { device: Device; caucusId: string };
}

function who(v: EntryView, ctx: CardContext): string {
  const e = v.entry;
  if (e.senderDeviceId === ctx.selfDeviceId) return "You";
  if (e.senderRole === "mediator") return "The mediator";
  return ctx.viewer === "mediator" ? `${ctx.partyName ?? "Party"}'s handler` : "Your party (another handler)";
}

function Stance({ text }: { text: string | undefined }) {
  return text ? (
    <p className="stance">
      <span className="label">Stance:</span> {text}
    </p>
  ) : null;
}

/** One transcript event: what it is, its words, its stance in plain words, and its state. */
export function EventCard(props: { view: EntryView; ctx: CardContext; actions?: ReactNode }) {
  const { view: v, ctx } = props;
  const b = v.body;
  const e = v.entry;
  let title: string;
  let body: ReactNode = null;
  let meta: ReactNode = null;
  let state: ReactNode = null;
  if (e.skipped) {
    title = "Message skipped";
    body = (
      <p role="note" className="warning">
        {skippedWords(e.skipped, who(v, ctx).toLowerCase() === "you" ? "you" : who(v, ctx))}
      </p>
    );
  } else if (e.burnt) {
    title = "Expired";
    body = <p className="muted">{burntWords(e.burnt)}</p>;
  } else if (!b) {
    const m = e.membership;
    title = "Membership change";
    body = (
      <p className="muted">
        {m?.added.length ? `${plural(m.added.length, "device", "devices")} added. ` : ""}
        {m?.removed.length ? `${plural(m.removed.length, "device", "devices")} removed. ` : ""}The caucus was
        re-keyed.
      </p>
    );
  } else
    switch (b.type) {
      case "signal":
        title = signalKindWords[b.signalKind] + (b.onBehalfOf ? ` on behalf of ${b.onBehalfOf}` : "");
        body = <blockquote>{b.text}</blockquote>;
        meta = (
          <p className="meta">
            Disclosure: {disclosureWords[b.disclosure]} · Attribution: {attributionWords[b.attribution]}
            {b.expiresAt ? ` · Expires ${formatTime(b.expiresAt)}` : ""}
          </p>
        );
        state = <Receipts v={v} ctx={ctx} />;
        break;
      case "acknowledgement":
        title = `Acknowledgement of #${ctx.seqOf(b.conveyanceEventId) ?? "?"}`;
        body = <blockquote>{b.text ?? "Received."}</blockquote>;
        meta = (
          <p className="meta">
            Disclosure: {disclosureWords[b.disclosure]} · Attribution: {attributionWords[b.attribution]}
          </p>
        );
        state = <Receipts v={v} ctx={ctx} />;
        break;
      case "conveyance":
        title = `Conveyed ${b.source === "signal" && b.signalKind ? signalKindWords[b.signalKind].toLowerCase() : b.source} from ${b.fromParty ?? "a party"} (${modeWords[b.mode]})`;
        body = <blockquote>{b.text}</blockquote>;
        meta = b.expiresAt ? <p className="meta">Expires {formatTime(b.expiresAt)}</p> : null;
        state = v.acknowledgements.length ? (
          <p className="ok">Acknowledged (#{v.acknowledgements.map((a) => a.seq).join(", #")})</p>
        ) : (
          <p className="pending">Not acknowledged yet</p>
        );
        break;
      case "receipt":
        title = `Receipt for #${ctx.seqOf(b.sourceEventId) ?? "?"}`;
        body = (
          <>
            <p>{receiptWords(b, ctx.viewer, ctx.partyName)}. Exact words used:</p>
            <blockquote>{b.text}</blockquote>
            <FileSummaries files={b.attachments} />
            {ctx.viewer === "party" && (
              <p className="muted">{"This receipt is the mediator's report of what it said in your name."}</p>
            )}
          </>
        );
        break;
      case "channel_info":
        title = "Channel";
        body = (
          <p>
            “{b.topic}” — this caucus is {b.partyName}'s line to {b.mediatorName}.
          </p>
        );
        break;
      case "understanding_proposal":
        title = "Proposed understanding";
        body = <blockquote>{b.text}</blockquote>;
        break;
      case "endorsement":
        title = "Endorsed understanding";
        body = <blockquote>{b.text}</blockquote>;
        break;
      case "understanding_reached":
        title = "Understanding reached";
        body = (
          <>
            <p>Every party endorsed these exact words:</p>
            <blockquote>{b.text}</blockquote>
          </>
        );
        break;
      case "note":
        title = "Note";
        body = <blockquote>{b.text}</blockquote>;
        break;
      case "heartbeat":
        // The mediator's sign of life carries no words: not shown in the transcript.
        return null;
    }
  return (
    <article className={`event event-${b?.type ?? "membership"}`} aria-label={`#${e.seq} ${title}`}>
      <header>
        <span className="seq">#{e.seq}</span> <strong>{title}</strong>{" "}
        <span className="muted">— {who(v, ctx)}</span>
      </header>
      <EventTimes entry={e} />
      {body}
      {b && "attachments" in b && b.type !== "receipt" && b.attachments?.length && ctx.files ? (
        <AttachmentList device={ctx.files.device} caucusId={ctx.files.caucusId} eventId={e.eventId} />
      ) : null}
      <Stance text={v.stanceText} />
      {meta}
      {state}
      {props.actions}
    </article>
  );
}

function Receipts({ v, ctx }: { v: EntryView; ctx: CardContext }) {
  if (!v.receipts.length)
    return (
      <p className="muted">{v.conveyability ? notConveyedWords(v.conveyability) : "Not conveyed yet."}</p>
    );
  // Receipts are always shown; one that breaks what the sender allowed is evidence, shown as a problem.
  return (
    <ul className="receipts" aria-label="Receipts">
      {v.receipts.map(({ entry, receipt, verdict }) => (
        <li key={entry.eventId} className={verdict.within ? "ok" : "problem"}>
          {receiptWords(receipt, ctx.viewer, ctx.partyName)} (#{entry.seq}
          {ctx.viewer === "party" ? "" : ", receipt posted"}): “{receipt.text}”
          {verdict.within ? null : <strong> — {verdictWords(verdict, ctx.viewer)}</strong>}
          <FileSummaries files={receipt.attachments} />
        </li>
      ))}
    </ul>
  );
}
