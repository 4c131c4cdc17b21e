import type { ChannelSnapshot, Mediator, PendingAdmission, PendingConveyanceView } from "../../sdk/index.js";
import { CaucusColumn } from "./caucus-column.js";
import { Understandings } from "./understandings.js";

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
