import { useState } from "react";
import type { ChannelSnapshot, Mediator, PendingAdmission, PendingConveyanceView } from "../../sdk/index.js";
import { CaucusColumn } from "./caucus-column.js";
import { useAction } from "./use-device.js";

export function ChannelView({
  device,
  channel,
  admissions,
  conveyances,
}: {
  device: Mediator;
  channel: ChannelSnapshot;
  admissions: readonly PendingAdmission[];
  conveyances: readonly PendingConveyanceView[];
}) {
  const mine = conveyances.filter((p) => channel.caucuses.some((c) => c.caucusId === p.sourceCaucusId));
  return (
    <section className="channel" aria-labelledby="channel-title">
      <h2 id="channel-title">“{channel.topic}”</h2>
      {mine.length > 0 && (
        <section className="pending-conveyances" aria-label="Conveyances not yet delivered">
          <h3>Not yet delivered</h3>
          <ul>
            {mine.map((p) => (
              <li key={p.id} className="pending">
                “{p.text}” from {p.sourceParty}
                {p.undelivered.length
                  ? ` — waiting for ${p.undelivered.map((n) => (p.errors[n] ? `${n} (${p.errors[n]})` : n)).join(", ")}`
                  : ""}
                {p.unreceipted.length ? ` — receipt for ${p.unreceipted.join(", ")} not posted yet` : ""}.
                Retried on every sync; the receipt names only where it landed.
              </li>
            ))}
          </ul>
        </section>
      )}
      <Understandings device={device} channel={channel} />
      <div
        className="columns"
        style={{ gridTemplateColumns: `repeat(${channel.caucuses.length}, minmax(18rem, 1fr))` }}
      >
        {channel.caucuses.map((c) => (
          <CaucusColumn
            key={c.caucusId}
            device={device}
            channel={channel}
            caucus={c}
            pending={admissions.filter((a) => a.caucusId === c.caucusId)}
          />
        ))}
      </div>
    </section>
  );
}

function Understandings({ device, channel }: { device: Mediator; channel: ChannelSnapshot }) {
  const [text, setText] = useState("");
  const { busy, error, run } = useAction();
  const list = channel.understandings;
  return (
    <details className="understandings">
      <summary>
        Understandings: {list.filter((u) => u.reached).length} reached
        {list.length ? ` of ${list.length} proposed` : " — parallel notifications are not an understanding"}
      </summary>
      <ul>
        {list.map((u) => (
          <li key={u.understandingId} className={u.reached ? "ok" : "pending"}>
            <strong>{u.reached ? "Reached" : "Not reached"}</strong>: “{u.text}” — endorsed by{" "}
            {u.endorsedBy.join(", ") || "nobody"}
            {u.pending.length ? `; waiting for ${u.pending.join(", ")}` : ""}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await device.proposeUnderstanding(channel.channelId, text);
            setText("");
          });
        }}
      >
        <label htmlFor="understanding-text">
          Propose an understanding (every party must endorse these exact words)
        </label>
        <textarea
          id="understanding-text"
          rows={2}
          value={text}
          onChange={(e) => setText(e.target.value)}
          required
        />
        {error && (
          <p role="alert" className="problem">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !text.trim()}>
          Propose to every party
        </button>
      </form>
    </details>
  );
}
