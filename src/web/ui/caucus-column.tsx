import { useRef, useState } from "react";
import {
  isConveyable,
  type CaucusView,
  type ChannelSnapshot,
  type HandlerView,
  type Mediator,
  type PendingAdmission,
} from "../../sdk/index.js";
import { ConveyPanel } from "./convey-panel.js";
import { EventCard, type CardContext } from "./event-card.js";
import { focusLater } from "./focus.js";
import { HistoryStart } from "./history-start.js";
import { OneTimeCode } from "./one-time-code.js";
import { TranscriptStatus } from "./transcript-status.js";
import { UnreadBadge, useUnread } from "./unread.js";
import { useAction } from "./use-device.js";
import { WaitingMark } from "./waiting-mark.js";
import { HandlersTrust, VerificationCode } from "./verification-code.js";

/** One party's caucus in the mediator's console. */
export function CaucusColumn(props: {
  device: Mediator;
  channel: ChannelSnapshot;
  caucus: CaucusView & { partyName: string };
  /** This caucus's handler devices waiting for the mediator to compare codes and admit them. */
  pending: readonly PendingAdmission[];
}) {
  const { device, caucus } = props;
  const { caucusId, partyName } = caucus;
  const views = caucus.views.filter((v) => v.body?.type !== "heartbeat");
  const seqs = new Map(caucus.entries.map((e) => [e.eventId, e.seq]));
  const ctx: CardContext = {
    selfDeviceId: device.deviceId,
    viewer: "mediator",
    partyName,
    seqOf: (id) => seqs.get(id),
    files: { device, caucusId },
  };
  const others = props.channel.caucuses.filter((c) => c.caucusId !== caucusId);
  // A broken or lost transcript is never built on: no conveying from it, no notes into it.
  const broken = !!caucus.problem || caucus.removed;
  const { unread, readProps } = useUnread(caucusId, views, device.deviceId);
  return (
    <section className="caucus" aria-label={`Caucus ${partyName}`} {...readProps}>
      <h3>
        {partyName} <UnreadBadge count={unread} />
      </h3>
      <TranscriptStatus
        problem={caucus.problemText}
        removed={caucus.removed}
        {...(caucus.accessRefused ? { refused: caucus.accessRefused } : {})}
        {...(caucus.quietSince ? { quietSince: caucus.quietSince } : {})}
        {...(caucus.closed ? { closed: true } : {})}
      />
      <PendingAdmissions device={device} partyName={partyName} pending={props.pending} />
      <Handlers device={device} caucusId={caucusId} partyName={partyName} handlers={caucus.handlers} />
      <HistoryStart anchorSeq={caucus.anchor.seq} />
      {views.length === 0 && <p className="muted">No events yet. Invite {partyName}'s handler to begin.</p>}
      <ol className="events">
        {views.map((v) => (
          <li key={v.entry.eventId}>
            <EventCard
              view={v}
              ctx={ctx}
              actions={
                v.entry.senderRole === "party" && isConveyable(v.body) ? (
                  <>
                    {v.conveyability?.conveyable && !v.receipts.length && !broken && (
                      <WaitingMark action="convey it, or keep it to yourself" />
                    )}
                    <ConveyPanel
                      device={device}
                      sourceCaucusId={caucusId}
                      sourceParty={partyName}
                      view={v}
                      targets={others}
                      disabled={broken}
                    />
                  </>
                ) : null
              }
            />
          </li>
        ))}
      </ol>
      <NoteForm device={device} caucusId={caucusId} partyName={partyName} disabled={broken} />
    </section>
  );
}

/** "Compare, then admit": each waiting device's verification code and an Admit button. */
function PendingAdmissions({
  device,
  partyName,
  pending,
}: {
  device: Mediator;
  partyName: string;
  pending: readonly PendingAdmission[];
}) {
  const { busy, error, run } = useAction();
  if (!pending.length) return null;
  return (
    <div className="pending-admissions" role="group" aria-label={`Waiting for admission to ${partyName}`}>
      <h4>Compare, then admit ({pending.length})</h4>
      <WaitingMark action="compare the codes, then admit" />
      <p>
        Read this code to {partyName}'s handler over a channel you trust (in person, a known voice). Admit the
        device only if it matches the code on the handler's screen.
      </p>
      <ul>
        {pending.map((a) => (
          <li key={a.deviceId}>
            <p>
              Device {a.deviceId.slice(0, 8)} (invite valid until {new Date(a.expiresAt).toLocaleString()})
            </p>
            <VerificationCode
              code={a.verificationCode}
              label={`Verification code of waiting ${partyName} device ${a.deviceId.slice(0, 8)}`}
              hideLabel
            />
            <button
              type="button"
              disabled={busy}
              onClick={(e) => {
                // The admitted device joins the handlers: the focus goes to that list.
                const column = e.currentTarget.closest("section");
                void run(async () => {
                  await device.admit(a.caucusId, a.deviceId);
                  focusLater(() => column?.querySelector<HTMLElement>(".handlers h4"));
                });
              }}
            >
              Codes match: admit device {a.deviceId.slice(0, 8)}
            </button>
          </li>
        ))}
      </ul>
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
    </div>
  );
}

function Handlers({
  device,
  caucusId,
  partyName,
  handlers,
}: {
  device: Mediator;
  caucusId: string;
  partyName: string;
  handlers: readonly HandlerView[];
}) {
  const [code, setCode] = useState<{ code: string; shortCode: string }>();
  const { busy, error, run } = useAction();
  const box = useRef<HTMLDivElement>(null);
  return (
    <div className="handlers" ref={box}>
      <h4>Handlers ({handlers.length})</h4>
      <HandlersTrust self={device.deviceId} partyName={partyName} handlers={handlers} />
      <ul>
        {handlers.map((h) => (
          <li key={h.deviceId}>
            <details>
              <summary>Device {h.deviceId.slice(0, 8)}</summary>
              <p>Verification code (compare with the handler):</p>
              <VerificationCode
                code={h.verificationCode}
                label={`Verification code of ${partyName} device ${h.deviceId.slice(0, 8)}`}
                hideLabel
                verify={{ self: device.deviceId, peer: h.deviceId }}
              />
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
                    void run(async () => {
                      await device.removeDevice(caucusId, h.deviceId);
                      focusLater(() => box.current?.querySelector<HTMLElement>("h4"));
                    });
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
          code={code.code}
          shortCode={code.shortCode}
          label={`Invite code for ${partyName}`}
          note={`Give it to ${partyName}'s designated handler out of band; it pins your key and works once.`}
          onDone={() => {
            setCode(undefined);
            focusLater(() => box.current?.querySelector<HTMLElement>(".invite-handler"));
          }}
        />
      ) : (
        <button
          type="button"
          className="invite-handler"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const inv = await device.invite(caucusId);
              setCode({ code: inv.code, shortCode: inv.shortCode });
              focusLater(() => box.current?.querySelector<HTMLElement>(".invite-code textarea"));
            })
          }
        >
          {busy ? "Inviting…" : `Invite a handler for ${partyName}`}
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
}: {
  device: Mediator;
  caucusId: string;
  partyName: string;
  disabled: boolean;
}) {
  const [text, setText] = useState("");
  const { busy, error, run } = useAction();
  const id = `note-${caucusId}`;
  return (
    <form
      className="note-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          await device.note(caucusId, text);
          setText("");
          focusLater(() => document.getElementById(id));
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
