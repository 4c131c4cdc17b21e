import { useRef, useState } from "react";
import {
  noStance,
  signalKind,
  type Attribution,
  type Disclosure,
  type SignalKind,
  type Stance,
} from "../../protocol/index.js";
import {
  attributionWords,
  disclosureWords,
  signalDefaults,
  signalKindWords,
  type Party,
} from "../../sdk/index.js";
import { AttachField, fileSource, type UploadProgress } from "./attach-field.js";
import { DisclosureFields } from "./disclosure-fields.js";
import { EventCard, type CardContext } from "./event-card.js";
import { focusLater, useFocusOnMount } from "./focus.js";
import { HistoryStart } from "./history-start.js";
import { PartyActions } from "./party-actions.js";
import { StatusBadge } from "./status-badge.js";
import { TranscriptStatus } from "./transcript-status.js";
import { StanceFields, cleanStance } from "./stance-fields.js";
import { Arrivals, ReadMarks, ReadMarksContext, UnreadBadge, useTitleBadge, useUnread } from "./unread.js";
import { useAction, useDevice } from "./use-device.js";
import { VerificationCode } from "./verification-code.js";
import { isVerified, useVerifiedPeers } from "./verified-peers.js";

/** A party handler's view: one caucus with the mediator. Never anything about other parties' handlers. */
export function PartyView({ device }: { device: Party }) {
  const [marks] = useState(() => new ReadMarks(device.deviceId));
  return (
    <ReadMarksContext.Provider value={marks}>
      <PartyScreen device={device} />
    </ReadMarksContext.Provider>
  );
}

function PartyScreen({ device }: { device: Party }) {
  const { snapshot, status } = useDevice(device);
  const { peers } = useVerifiedPeers(device.deviceId);
  const verified = isVerified(peers, "mediator", snapshot.verificationCode);
  const { joined, caucus: record } = snapshot;
  const entries = record?.entries ?? [];
  const views = (record?.views ?? []).filter((v) => v.body?.type !== "heartbeat");
  const seqs = new Map(entries.map((e) => [e.eventId, e.seq]));
  const ctx: CardContext = {
    selfDeviceId: device.deviceId,
    viewer: "party",
    seqOf: (id) => seqs.get(id),
    ...(record ? { files: { device, caucusId: record.caucusId } } : {}),
  };
  const { unread, readProps } = useUnread(record?.caucusId ?? "", views, device.deviceId);
  useTitleBadge(unread);
  const heading = useFocusOnMount<HTMLHeadingElement>();

  return (
    <div className="app">
      <header className="topbar">
        <h1 ref={heading}>{record?.topic ? `“${record.topic}”` : "Backchannel"}</h1>
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
          <div className="party-main" {...readProps}>
            <Arrivals
              caucuses={record ? [{ caucusId: record.caucusId, label: "your caucus", views }] : []}
              selfDeviceId={device.deviceId}
            />
            <section aria-labelledby="compose-title" className="compose">
              <details open className="fold">
                <summary>
                  <h2 id="compose-title">Send a signal to the mediator</h2>
                </summary>
                <ComposeSignal
                  device={device}
                  disabled={!!record?.problem || !!record?.removed || !!record?.closed}
                />
              </details>
            </section>
            <section aria-labelledby="transcript-title" className="transcript">
              <h2 id="transcript-title">
                Your caucus <UnreadBadge count={unread} />
              </h2>
              <TranscriptStatus
                problem={record?.problemText}
                removed={record?.removed}
                {...(record?.accessRefused ? { refused: record.accessRefused } : {})}
                {...(record?.quietSince ? { quietSince: record.quietSince } : {})}
                {...(record?.closed ? { closed: true } : {})}
              />
              {record && <HistoryStart anchorSeq={record.anchor.seq} />}
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
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<UploadProgress>();
  const { busy, error, run, setError } = useAction();
  const textBox = useRef<HTMLTextAreaElement>(null);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        // An expiry in the past would be burnt on arrival: refused here, before anything is sent.
        if (expires && !(new Date(expires).getTime() > Date.now())) {
          setError("The expiry is in the past: choose a later time, or leave it empty.");
          focusLater(() => document.getElementById("signal-expires"));
          return;
        }
        void run(async () => {
          await device
            .send({
              ...(files.length
                ? {
                    attachments: files.map(fileSource),
                    onProgress: (file: number, done: number, size: number) =>
                      setProgress({ file, done, size }),
                  }
                : {}),
              signalKind: kind,
              text,
              stance: cleanStance(stance),
              disclosure,
              attribution,
              ...(expires ? { expiresAt: new Date(expires).toISOString() } : {}),
            })
            .finally(() => setProgress(undefined));
          // Back to the clear defaults, so a choice made for one signal is not silently reused.
          setText("");
          setStance(noStance);
          setDisclosure(signalDefaults.disclosure);
          setAttribution(signalDefaults.attribution);
          setExpires("");
          setFiles([]);
          focusLater(() => textBox.current);
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
      <textarea
        ref={textBox}
        id="signal-text"
        rows={4}
        value={text}
        onChange={(e) => setText(e.target.value)}
        disabled={disabled}
        required
      />
      <StanceFields value={stance} onChange={setStance} idPrefix="signal-stance" />
      <DisclosureFields
        name="signal"
        disclosure={disclosure}
        attribution={attribution}
        onDisclosure={setDisclosure}
        onAttribution={setAttribution}
      />
      <label htmlFor="signal-expires">Expires (optional)</label>
      <input
        id="signal-expires"
        type="datetime-local"
        value={expires}
        onChange={(e) => setExpires(e.target.value)}
      />
      <AttachField files={files} onChange={setFiles} progress={progress} disabled={busy || disabled} />
      <p className="muted">
        Summary: {signalKindWords[kind].toLowerCase()}, {disclosureWords[disclosure]},{" "}
        {attributionWords[attribution]}
        {files.length ? `, with ${files.length === 1 ? "1 file" : `${files.length} files`}` : ""}.
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
