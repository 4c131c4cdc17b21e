import { useRef, useState } from "react";
import type { ChannelSnapshot, Mediator } from "../../sdk/index.js";
import { focusLater } from "./focus.js";
import { useAction } from "./use-device.js";

/**
 * A channel's understandings, and proposing one: an evident action (a button), not a line that
 * looks like a status. Parties are told when one is reached (sdk/mediator/understanding-news.ts).
 */
export function Understandings({ device, channel }: { device: Mediator; channel: ChannelSnapshot }) {
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const { busy, error, run } = useAction();
  const box = useRef<HTMLElement>(null);
  const list = channel.understandings;
  const focusOpener = () =>
    focusLater(() => box.current?.querySelector<HTMLElement>(".propose-understanding"));
  return (
    <section className="understandings" aria-labelledby="understandings-title" ref={box}>
      <h3 id="understandings-title">Understandings</h3>
      <p>
        Understandings: {list.filter((u) => u.reached).length} reached
        {list.length ? ` of ${list.length} proposed` : " — parallel notifications are not an understanding"}
      </p>
      {list.length > 0 && (
        <ul>
          {list.map((u) => (
            <li key={u.understandingId} className={u.reached ? "ok" : "pending"}>
              <strong>{u.reached ? "Reached" : "Not reached"}</strong>: “{u.text}” — endorsed by{" "}
              {u.endorsedBy.join(", ") || "nobody"}
              {u.pending.length ? `; waiting for ${u.pending.join(", ")}` : ""}
            </li>
          ))}
        </ul>
      )}
      {open ? (
        <form
          aria-label="Propose an understanding"
          onKeyDown={(e) => {
            if (e.key !== "Escape") return;
            setOpen(false);
            focusOpener();
          }}
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await device.proposeUnderstanding(channel.channelId, text);
              setText("");
              setOpen(false);
              focusOpener();
            });
          }}
        >
          <label htmlFor="understanding-text">
            The understanding's exact words (every party must endorse them word for word)
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
            {busy ? "Proposing…" : "Propose to every party"}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setOpen(false);
              focusOpener();
            }}
          >
            Cancel
          </button>
        </form>
      ) : (
        <button
          type="button"
          className="propose-understanding"
          onClick={() => {
            setOpen(true);
            focusLater(() => document.getElementById("understanding-text"));
          }}
        >
          Propose an understanding…
        </button>
      )}
    </section>
  );
}
