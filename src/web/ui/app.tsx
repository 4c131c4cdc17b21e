import { useEffect, useState } from "react";
import { assertSecureContext, browserPlatform, IdbStateStore } from "../../sdk/browser.js";
import { Mediator, openDevice, type Party } from "../../sdk/index.js";
import { errorText } from "./error-text.js";
import { Landing } from "./landing.js";
import { MediatorConsole } from "./mediator-console.js";
import { PartyView } from "./party-view.js";

type Loaded =
  | { kind: "loading" }
  | { kind: "none" }
  | { kind: "mediator"; device: Mediator }
  | { kind: "party"; device: Party }
  | { kind: "error"; message: string };

/** One device per browser profile: the keys never leave this browser's IndexedDB. */
export function App() {
  const [store] = useState(() => new IdbStateStore());
  const [loaded, setLoaded] = useState<Loaded>({ kind: "loading" });

  useEffect(() => {
    void (async () => {
      try {
        assertSecureContext(); // a clear error on plain http, before anything needs WebCrypto
        if (!(await store.exists())) return setLoaded({ kind: "none" });
        const device = await openDevice(store, browserPlatform);
        setLoaded(device instanceof Mediator ? { kind: "mediator", device } : { kind: "party", device });
      } catch (e) {
        setLoaded({ kind: "error", message: errorText(e) });
      }
    })();
  }, [store]);

  switch (loaded.kind) {
    case "loading":
      return <p className="center muted">Opening this browser's device…</p>;
    case "error":
      return (
        <p role="alert" className="center problem">
          {loaded.message}
        </p>
      );
    case "none":
      return (
        <Landing
          store={store}
          onMediator={(device) => setLoaded({ kind: "mediator", device })}
          onParty={(device) => setLoaded({ kind: "party", device })}
        />
      );
    case "mediator":
      return <MediatorConsole device={loaded.device} />;
    case "party":
      return <PartyView device={loaded.device} />;
  }
}
