import { useState } from "react";
import { describeProblem } from "../../protocol/index.js";
import { entryViews, type ChannelView, type Mediator } from "../../sdk/index.js";
import { ConveyPanel } from "./convey-panel.js";
import { EventCard, type CardContext } from "./event-card.js";
import { OneTimeCode } from "./one-time-code.js";
import { TranscriptStatus } from "./transcript-status.js";
import { useAction } from "./use-device.js";

/** One party's caucus in the mediator's console. */
export function CaucusColumn(props: {
  device: Mediator;
  channel: ChannelView;
  caucusId: string;
  partyName: string;
  refresh: () => void;
}) {
  const { device, caucusId, partyName, refresh } = props;
  const record = device.caucus(caucusId);
  const views = entryViews(record.entries);
  const seqs = new Map(record.entries.map((e) => [e.eventId, e.seq]));
  const ctx: CardContext = {
    selfDeviceId: device.deviceId,
    viewer: "mediator",
    partyName,
    seqOf: (id) => seqs.get(id),
  };
  const others = props.channel.caucuses.filter((c) => c.caucusId !== caucusId);
  // A broken or lost transcript is never built on: no conveying from it, no notes into it.
  const broken = !!record.problem || !!record.removed;
  return (
    <section className="caucus" aria-label={`Caucus ${partyName}`}>
      <h3>{partyName}</h3>
      <TranscriptStatus
        problem={record.problem ? describeProblem(record.problem) : undefined}
        removed={record.removed}
      />
      <Handlers device={device} caucusId={caucusId} partyName={partyName} refresh={refresh} />
      {views.length === 0 && <p className="muted">No events yet. Invite {partyName}'s handler to begin.</p>}
      <ol className="events">
        {views.map((v) => (
          <li key={v.entry.eventId}>
            <EventCard
              view={v}
              ctx={ctx}
              actions={
                v.entry.senderRole === "party" &&
                (v.body?.type === "signal" || v.body?.type === "acknowledgement") ? (
                  <ConveyPanel
                    device={device}
                    sourceCaucusId={caucusId}
                    sourceParty={partyName}
                    view={v}
                    targets={others}
                    disabled={broken}
                    refresh={refresh}
                  />
                ) : null
              }
            />
          </li>
        ))}
      </ol>
      <NoteForm
        device={device}
        caucusId={caucusId}
        partyName={partyName}
        disabled={broken}
        refresh={refresh}
      />
    </section>
  );
}

function Handlers({
  device,
  caucusId,
  partyName,
  refresh,
}: {
  device: Mediator;
  caucusId: string;
  partyName: string;
  refresh: () => void;
}) {
  const handlers = device.handlers(caucusId);
  const [code, setCode] = useState<string>();
  const { busy, error, run } = useAction(refresh);
  return (
    <div className="handlers">
      <h4>Handlers ({handlers.length})</h4>
      <ul>
        {handlers.map((h) => (
          <li key={h.deviceId}>
            <details>
              <summary>Device {h.deviceId.slice(0, 8)}</summary>
              <p>Verification code (compare with the handler):</p>
              <pre aria-label={`Verification code of ${partyName} device ${h.deviceId.slice(0, 8)}`}>
                {h.verificationCode}
              </pre>
              <button
                type="button"
                className="danger"
                disabled={busy}
                onClick={() => {
                  if (
                    window.confirm(
                      `Remove this device from ${partyName}'s caucus? The caucus is re-keyed; it will read nothing sent afterwards.`,
                    )
                  )
                    void run(() => device.removeDevice(caucusId, h.deviceId));
                }}
              >
                Remove device
              </button>
            </details>
          </li>
        ))}
      </ul>
      {code ? (
        <OneTimeCode
          code={code}
          label={`Invite code for ${partyName}`}
          note={`Give it to ${partyName}'s designated handler out of band; it pins your key and works once.`}
          onDone={() => setCode(undefined)}
        />
      ) : (
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const inv = await device.invite(caucusId);
              setCode(inv.code);
            })
          }
        >
          Invite a handler for {partyName}
        </button>
      )}
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
    </div>
  );
}

function NoteForm({
  device,
  caucusId,
  partyName,
  disabled,
  refresh,
}: {
  device: Mediator;
  caucusId: string;
  partyName: string;
  disabled: boolean;
  refresh: () => void;
}) {
  const [text, setText] = useState("");
  const { busy, error, run } = useAction(refresh);
  const id = `note-${caucusId}`;
  return (
    <form
      className="note-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          await device.note(caucusId, text);
          setText("");
        });
      }}
    >
      <label htmlFor={id}>Note to {partyName} (your own words)</label>
      <textarea
        id={id}
        rows={2}
        value={text}
        onChange={(e) => setText(e.target.value)}
        disabled={disabled}
        required
      />
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy || disabled || !text.trim()}>
        Send note
      </button>
    </form>
  );
}
