import { useState } from "react";
import type { Mediator } from "../../sdk/index.js";
import { ChannelView } from "./channel-view.js";
import { focusLater, useFocusOnMount } from "./focus.js";
import { MediatorDevices } from "./mediator-devices.js";
import { MediatorNews } from "./mediator-news.js";
import { StatusBadge } from "./status-badge.js";
import { ReadMarks, ReadMarksContext } from "./unread.js";
import { useAction, useDevice } from "./use-device.js";

/** The mediator's console: channels on the left, the chosen channel's caucuses side by side. */
export function MediatorConsole({ device }: { device: Mediator }) {
  const [marks] = useState(() => new ReadMarks(device.deviceId));
  return (
    <ReadMarksContext.Provider value={marks}>
      <MediatorScreen device={device} />
    </ReadMarksContext.Provider>
  );
}

function MediatorScreen({ device }: { device: Mediator }) {
  const { snapshot, status } = useDevice(device);
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const channels = snapshot.channels;
  const [selected, setSelected] = useState<string | undefined>(channels[0]?.channelId);
  const current = channels.find((c) => c.channelId === selected) ?? channels[0];
  return (
    <div className="app mediator">
      <header className="topbar">
        <h1 ref={heading}>Backchannel — mediator console</h1>
        <p>{snapshot.name}</p>
        <StatusBadge status={status} />
      </header>
      <MediatorNews device={device} channels={channels} />
      <main className="console">
        <nav aria-label="Channels" className="sidebar">
          <h2>Channels</h2>
          {channels.length === 0 && <p className="muted">No channels yet.</p>}
          <ul>
            {channels.map((c) => (
              <li key={c.channelId}>
                <button
                  type="button"
                  aria-current={c.channelId === current?.channelId ? "page" : undefined}
                  onClick={() => setSelected(c.channelId)}
                >
                  {c.topic}
                </button>
              </li>
            ))}
          </ul>
          <NewChannel device={device} onCreated={setSelected} />
          <MediatorDevices device={device} devices={snapshot.mediatorDevices} />
        </nav>
        {current ? (
          <ChannelView
            key={current.channelId}
            device={device}
            channel={current}
            admissions={snapshot.pendingAdmissions}
            conveyances={snapshot.pendingConveyances}
          />
        ) : (
          <section className="empty">
            <h2>Open a channel</h2>
            <p>
              A channel has a topic and two or more parties; each party gets its own private, end-to-end
              encrypted caucus with you.
            </p>
          </section>
        )}
      </main>
    </div>
  );
}

function NewChannel({ device, onCreated }: { device: Mediator; onCreated: (id: string) => void }) {
  const [topic, setTopic] = useState("");
  const [parties, setParties] = useState("");
  const { busy, error, run } = useAction();
  return (
    <form
      aria-labelledby="new-channel-title"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          const c = await device.createChannel({
            topic,
            parties: parties
              .split("\n")
              .map((p) => p.trim())
              .filter(Boolean),
          });
          setTopic("");
          setParties("");
          onCreated(c.channelId);
          // The new channel's heading (not the one being replaced, which has the same id).
          focusLater(() => {
            const h = document.getElementById("channel-title");
            return h?.textContent === `“${c.topic}”` ? h : null;
          });
        });
      }}
    >
      <h2 id="new-channel-title">New channel</h2>
      <label htmlFor="channel-topic">Topic</label>
      <input id="channel-topic" value={topic} onChange={(e) => setTopic(e.target.value)} required />
      <label htmlFor="channel-parties">Parties, one per line</label>
      <textarea
        id="channel-parties"
        rows={3}
        value={parties}
        onChange={(e) => setParties(e.target.value)}
        required
      />
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create channel"}
      </button>
    </form>
  );
}
