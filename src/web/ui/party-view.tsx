import { useState } from "react";
import {
  noStance,
  signalKind,
  type Attribution,
  type Disclosure,
  type SignalKind,
  type Stance,
} from "../../protocol/index.js";
import {
  attributionChoices,
  attributionChoiceWords,
  attributionWords,
  disclosureChoices,
  disclosureChoiceWords,
  disclosureWords,
  signalDefaults,
  signalKindWords,
  type EntryView,
  type Party,
} from "../../sdk/index.js";
import { EventCard, type CardContext } from "./event-card.js";
import { StatusBadge } from "./status-badge.js";
import { TranscriptStatus } from "./transcript-status.js";
import { StanceFields, cleanStance } from "./stance-fields.js";
import { useAction, useDevice } from "./use-device.js";
import { VerificationCode } from "./verification-code.js";
import { isVerified, useVerifiedPeers } from "./verified-peers.js";

/** A party handler's view: one caucus with the mediator. Never anything about other parties' handlers. */
export function PartyView({ device }: { device: Party }) {
  const { snapshot, status } = useDevice(device);
  const { peers } = useVerifiedPeers(device.deviceId);
  const verified = isVerified(peers, "mediator", snapshot.verificationCode);
  const { joined, caucus: record } = snapshot;
  const entries = record?.entries ?? [];
  const views = (record?.views ?? []).filter((v) => v.body?.type !== "heartbeat");
  const seqs = new Map(entries.map((e) => [e.eventId, e.seq]));
  const ctx: CardContext = { selfDeviceId: device.deviceId, viewer: "party", seqOf: (id) => seqs.get(id) };

  return (
    <div className="app">
      <header className="topbar">
        <h1>{record?.topic ? `“${record.topic}”` : "Backchannel"}</h1>
        <p>
          {record?.partyName ? (
            <>
              You speak for <strong>{record.partyName}</strong>
            </>
          ) : (
            "Party handler"
          )}
          {record?.mediatorName ? <> · mediator: {record.mediatorName}</> : null}
        </p>
        <StatusBadge status={status} />
      </header>
      <main className="party">
        {/* Open until the handler marks the mediator verified: the code is the first thing to do. */}
        <details className="verify-code" open={!verified}>
          <summary>Verification code{verified && <span className="verified-badge">✓ Verified</span>}</summary>
          <p>
            Compare it with the mediator over a channel you trust. A match means the mediator admitted this
            device's key.
          </p>
          <VerificationCode
            code={snapshot.verificationCode}
            label="Verification code"
            hideLabel
            verify={{ self: device.deviceId, peer: "mediator" }}
          />
        </details>
        {!joined ? (
          <section aria-live="polite" className="empty">
            <h2>Waiting for the mediator</h2>
            <p>
              Your invite was redeemed. Compare the verification code above with the mediator over a channel
              you trust: the mediator admits this device once the codes match. This page updates by itself.
            </p>
          </section>
        ) : (
          <div className="party-main">
            <section aria-labelledby="compose-title" className="compose">
              <details open className="fold">
                <summary>
                  <h2 id="compose-title">Send a signal to the mediator</h2>
                </summary>
                <ComposeSignal device={device} disabled={!!record?.problem || !!record?.removed} />
              </details>
            </section>
            <section aria-labelledby="transcript-title" className="transcript">
              <h2 id="transcript-title">Your caucus</h2>
              <TranscriptStatus
                problem={record?.problemText}
                removed={record?.removed}
                {...(record?.accessRefused ? { refused: record.accessRefused } : {})}
                {...(record?.quietSince ? { quietSince: record.quietSince } : {})}
                {...(record?.closed ? { closed: true } : {})}
              />
              {views.length === 0 && <p className="muted">Nothing here yet.</p>}
              <ol className="events">
                {views.map((v) => (
                  <li key={v.entry.eventId}>
                    <EventCard
                      view={v}
                      ctx={ctx}
                      actions={<PartyActions device={device} view={v} entries={entries} />}
                    />
                  </li>
                ))}
              </ol>
            </section>
          </div>
        )}
      </main>
    </div>
  );
}

function ComposeSignal({ device, disabled }: { device: Party; disabled: boolean }) {
  const [kind, setKind] = useState<SignalKind>("notification_of_intent");
  const [text, setText] = useState("");
  const [stance, setStance] = useState<Stance>(noStance);
  const [disclosure, setDisclosure] = useState<Disclosure>(signalDefaults.disclosure);
  const [attribution, setAttribution] = useState<Attribution>(signalDefaults.attribution);
  const [expires, setExpires] = useState("");
  const { busy, error, run } = useAction();
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          await device.send({
            signalKind: kind,
            text,
            stance: cleanStance(stance),
            disclosure,
            attribution,
            ...(expires ? { expiresAt: new Date(expires).toISOString() } : {}),
          });
          // Back to the clear defaults, so a choice made for one signal is not silently reused.
          setText("");
          setStance(noStance);
          setDisclosure(signalDefaults.disclosure);
          setAttribution(signalDefaults.attribution);
          setExpires("");
        });
      }}
    >
      <label htmlFor="signal-kind">Kind</label>
      <select id="signal-kind" value={kind} onChange={(e) => setKind(e.target.value as SignalKind)}>
        {signalKind.options.map((k) => (
          <option key={k} value={k}>
            {signalKindWords[k]}
          </option>
        ))}
      </select>
      <label htmlFor="signal-text">What you want to signal</label>
      <textarea id="signal-text" rows={4} value={text} onChange={(e) => setText(e.target.value)} required />
      <StanceFields value={stance} onChange={setStance} idPrefix="signal-stance" />
      <fieldset>
        <legend>What the mediator may do with it</legend>
        {disclosureChoices.map((d) => (
          <label key={d} className="radio">
            <input
              type="radio"
              name="disclosure"
              value={d}
              checked={disclosure === d}
              onChange={() => setDisclosure(d)}
            />
            {disclosureChoiceWords[d]}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>If conveyed, name the source as</legend>
        {attributionChoices.map((a) => (
          <label key={a} className="radio">
            <input
              type="radio"
              name="attribution"
              value={a}
              checked={attribution === a}
              onChange={() => setAttribution(a)}
            />
            {attributionChoiceWords[a]}
          </label>
        ))}
      </fieldset>
      <label htmlFor="signal-expires">Expires (optional)</label>
      <input
        id="signal-expires"
        type="datetime-local"
        value={expires}
        onChange={(e) => setExpires(e.target.value)}
      />
      <p className="muted">
        Summary: {signalKindWords[kind].toLowerCase()}, {disclosureWords[disclosure]},{" "}
        {attributionWords[attribution]}.
      </p>
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy || disabled || !text.trim()}>
        {busy ? "Sending…" : "Send signal"}
      </button>
    </form>
  );
}

function PartyActions({
  device,
  view,
  entries,
}: {
  device: Party;
  view: EntryView;
  entries: readonly EntryView["entry"][];
}) {
  const b = view.body;
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [stance, setStance] = useState<Stance>(noStance);
  const { busy, error, run } = useAction();
  if (b?.type === "understanding_proposal") {
    const endorsed = entries.some(
      (e) => e.payload?.body.type === "endorsement" && e.payload.body.understandingId === b.understandingId,
    );
    return endorsed ? (
      <p className="ok">You endorsed this exact text.</p>
    ) : (
      <div>
        {error && (
          <p role="alert" className="problem">
            {error}
          </p>
        )}
        <button
          type="button"
          disabled={busy}
          onClick={() => void run(() => device.endorse(b.understandingId))}
        >
          Endorse this exact text
        </button>
      </div>
    );
  }
  if (b?.type !== "conveyance" || view.acknowledgements.length) return null;
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Acknowledge…
      </button>
    );
  const id = `ack-${view.entry.seq}`;
  return (
    <form
      className="inline-form"
      aria-label={`Acknowledge #${view.entry.seq}`}
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          await device.acknowledge(view.entry.eventId, { text, stance: cleanStance(stance) });
          setOpen(false);
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
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Send acknowledgement
      </button>
      <button type="button" className="secondary" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
