import { useState, type FormEvent } from "react";
import type { Mediator, Party } from "../../sdk/index.js";
import type { IdbStateStore } from "../../sdk/browser.js";
import { errorText } from "./error-text.js";
import { assertSameRelay, type Relay } from "./relay.js";

/** First visit: this browser becomes either the mediator's device or a party handler's. */
export function Landing(props: {
  /** This browser's store, made with the sdk, which loads when the device is made (app.tsx). */
  store: () => Promise<IdbStateStore>;
  /** Every device made here uses this relay (the console's CSP lets it reach no other). */
  relay: Relay;
  onMediator: (m: Mediator) => void;
  onParty: (p: Party) => void;
}) {
  const [name, setName] = useState("");
  const [registrationToken, setRegistrationToken] = useState("");
  const [code, setCode] = useState("");
  const [linkCode, setLinkCode] = useState("");
  // Which action runs: its button says so ("Creating…") and every button waits (issue 11, item 7).
  const [busy, setBusy] = useState<"join" | "create" | "link">();
  const [error, setError] = useState<string>();

  const go = async (e: FormEvent, action: "join" | "create" | "link", fn: () => Promise<void>) => {
    e.preventDefault();
    setBusy(action);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <main className="landing">
      <h1>Backchannel</h1>
      <p className="lede">
        Secret, indirect, non-binding signalling through a mediator both sides trust. Everything is encrypted
        in this browser; the server only relays ciphertext.
      </p>
      <p className="muted">Relay: {props.relay.url}</p>
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <div className="landing-grid">
        <form
          aria-labelledby="join-title"
          aria-busy={busy === "join"}
          onSubmit={(e) =>
            void go(e, "join", async () => {
              const { browserPlatform, decodeInviteCode, isShortCode, Party } =
                await import("./device-sdk.js");
              // A short code is taken from this relay; a long one names its own.
              if (!isShortCode(code))
                assertSameRelay(props.relay, decodeInviteCode(code).server, "This invite code");
              const p = await Party.join({
                inviteCode: code,
                store: await props.store(),
                platform: browserPlatform,
                serverUrl: props.relay.url,
              });
              props.onParty(p);
            })
          }
        >
          <h2 id="join-title">I handle a party's line</h2>
          <label htmlFor="invite-code">Invite code from the mediator (long or short)</label>
          <textarea
            id="invite-code"
            rows={4}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            placeholder="bc1-… or 7KQ3M-XHD9T-FAWR2-P8N4C"
            required
          />
          <button type="submit" disabled={!!busy || !code.trim()}>
            {busy === "join" ? "Joining…" : "Join the caucus"}
          </button>
        </form>
        <form
          aria-labelledby="mediator-title"
          aria-busy={busy === "create"}
          onSubmit={(e) =>
            void go(e, "create", async () => {
              const { browserPlatform, Mediator } = await import("./device-sdk.js");
              const m = await Mediator.create({
                serverUrl: props.relay.url,
                name: name.trim(),
                store: await props.store(),
                platform: browserPlatform,
                ...(registrationToken.trim() ? { registrationToken: registrationToken.trim() } : {}),
              });
              props.onMediator(m);
            })
          }
        >
          <h2 id="mediator-title">I am the mediator</h2>
          <label htmlFor="mediator-name">Your name, as parties will see it</label>
          <input id="mediator-name" value={name} onChange={(e) => setName(e.target.value)} required />
          <label htmlFor="registration-token">
            Registration token from the relay's operator (if it asks for one)
          </label>
          <input
            id="registration-token"
            value={registrationToken}
            onChange={(e) => setRegistrationToken(e.target.value)}
            placeholder="bcr1-…"
            autoComplete="off"
            spellCheck={false}
          />
          <button type="submit" disabled={!!busy || !name.trim()}>
            {busy === "create" ? "Creating…" : "Create mediator device"}
          </button>
        </form>
      </div>
      <details className="staff-join">
        <summary>I am on the mediator's staff (I have a link code)</summary>
        <form
          aria-labelledby="staff-title"
          aria-busy={busy === "link"}
          onSubmit={(e) =>
            void go(e, "link", async () => {
              const { browserPlatform, Mediator } = await import("./device-sdk.js");
              const m = await Mediator.joinAsStaff({
                linkCode,
                store: await props.store(),
                platform: browserPlatform,
                serverUrl: props.relay.url,
              });
              props.onMediator(m);
            })
          }
        >
          <h2 id="staff-title">Add this browser as a mediator device</h2>
          <label htmlFor="link-code">Link code from one of the mediator's devices</label>
          <textarea
            id="link-code"
            rows={3}
            value={linkCode}
            onChange={(e) => setLinkCode(e.target.value)}
            placeholder="bc1m-…"
            required
          />
          <button type="submit" disabled={!!busy || !linkCode.trim()}>
            {busy === "link" ? "Linking…" : "Link this device"}
          </button>
        </form>
      </details>
    </main>
  );
}
