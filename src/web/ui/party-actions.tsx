import { useRef, useState } from "react";
import { noStance, type Attribution, type Disclosure, type Stance } from "../../protocol/index.js";
import { caucusUnderstanding, signalDefaults, type EntryView, type Party } from "../../sdk/index.js";
import { DisclosureFields } from "./disclosure-fields.js";
import { cardOf, focusLater } from "./focus.js";
import { StanceFields, cleanStance } from "./stance-fields.js";
import { useAction } from "./use-device.js";
import { WaitingMark } from "./waiting-mark.js";

/** What a handler can do with a card: endorse a proposed understanding, acknowledge a conveyance. */
export function PartyActions({
  device,
  view,
  entries,
}: {
  device: Party;
  view: EntryView;
  entries: readonly EntryView["entry"][];
}) {
  const b = view.body;
  if (b?.type === "understanding_proposal")
    return <EndorseAction device={device} understandingId={b.understandingId} entries={entries} />;
  if (b?.type === "conveyance" && !view.acknowledgements.length)
    return <AcknowledgeAction device={device} view={view} />;
  return null;
}

/**
 * Endorsing is asked twice: the exact words are shown again with the question, because an
 * understanding is those words and nothing else. Once every party endorsed, the mediator says so
 * and the card says "Reached".
 */
function EndorseAction({
  device,
  understandingId,
  entries,
}: {
  device: Party;
  understandingId: string;
  entries: readonly EntryView["entry"][];
}) {
  const [asking, setAsking] = useState(false);
  const { busy, error, run } = useAction();
  const box = useRef<HTMLDivElement>(null);
  const u = caucusUnderstanding(entries, understandingId);
  if (!u) return null;
  if (u.reached)
    return (
      <p className="ok understanding-reached">
        <strong>Reached</strong>: every party endorsed this exact text (the mediator's word: only it sees
        every caucus).
      </p>
    );
  if (u.endorsed)
    return (
      <p className="ok">You endorsed this exact text. Not reached yet: waiting for the other parties.</p>
    );
  const id = `endorse-${understandingId}`;
  return (
    <div ref={box}>
      <WaitingMark action="endorse it, or leave it" />
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      {asking ? (
        <div
          role="group"
          aria-labelledby={`${id}-q`}
          className="inline-form confirm-endorse"
          onKeyDown={(e) => {
            if (e.key !== "Escape") return;
            setAsking(false);
            focusLater(() => box.current?.querySelector<HTMLElement>("button"));
          }}
        >
          <p id={`${id}-q`}>
            <strong>Endorse these exact words?</strong> Every party must endorse the identical text for an
            understanding to exist.
          </p>
          <blockquote>{u.text}</blockquote>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                const card = cardOf(box.current);
                await device.endorse(understandingId);
                setAsking(false);
                focusLater(() => card);
              })
            }
          >
            {busy ? "Endorsing…" : "Yes, endorse these exact words"}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setAsking(false);
              focusLater(() => box.current?.querySelector<HTMLElement>("button"));
            }}
          >
            Cancel
          </button>
        </div>
      ) : (
        <button
          type="button"
          onClick={() => {
            setAsking(true);
            focusLater(() => box.current?.querySelector<HTMLElement>(".confirm-endorse button"));
          }}
        >
          Endorse this exact text…
        </button>
      )}
    </div>
  );
}

/** An acknowledgement offers the same choices as a signal, with the same defaults (substance, named). */
function AcknowledgeAction({ device, view }: { device: Party; view: EntryView }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [stance, setStance] = useState<Stance>(noStance);
  const [disclosure, setDisclosure] = useState<Disclosure>(signalDefaults.disclosure);
  const [attribution, setAttribution] = useState<Attribution>(signalDefaults.attribution);
  const { busy, error, run } = useAction();
  const opener = useRef<HTMLButtonElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const close = () => {
    setOpen(false);
    focusLater(() => opener.current);
  };
  const id = `ack-${view.entry.seq}`;
  if (!open)
    return (
      <>
        <WaitingMark action="acknowledge it" />
        <button
          type="button"
          ref={opener}
          onClick={() => {
            setOpen(true);
            focusLater(() => document.getElementById(`${id}-text`));
          }}
        >
          Acknowledge…
        </button>
      </>
    );
  return (
    <form
      ref={form}
      className="inline-form"
      aria-label={`Acknowledge #${view.entry.seq}`}
      onKeyDown={(e) => {
        if (e.key === "Escape") close();
      }}
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          const card = cardOf(form.current);
          await device.acknowledge(view.entry.eventId, {
            text,
            stance: cleanStance(stance),
            disclosure,
            attribution,
          });
          setOpen(false);
          focusLater(() => card);
        });
      }}
    >
      <label htmlFor={`${id}-text`}>Your acknowledgement (optional words)</label>
      <textarea
        id={`${id}-text`}
        rows={2}
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="Received."
      />
      <StanceFields value={stance} onChange={setStance} idPrefix={`${id}-stance`} />
      <DisclosureFields
        name={id}
        disclosure={disclosure}
        attribution={attribution}
        onDisclosure={setDisclosure}
        onAttribution={setAttribution}
      />
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Sending…" : "Send acknowledgement"}
      </button>
      <button type="button" className="secondary" onClick={close}>
        Cancel
      </button>
    </form>
  );
}
