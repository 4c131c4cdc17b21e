import { useEffect, useState, type ReactNode } from "react";
import { assertSecureContext, browserPlatform, IdbStateStore } from "../../sdk/browser.js";
import { Mediator, openDevice, type Party } from "../../sdk/index.js";
import { errorText } from "./error-text.js";
import { Landing } from "./landing.js";
import { MediatorConsole } from "./mediator-console.js";
import { PartyView } from "./party-view.js";
import { assertSameRelay, loadRelay, type Relay } from "./relay.js";
import { RelayServedWarning } from "./relay-served-warning.js";

type Loaded =
  | { kind: "loading" }
  | { kind: "none"; relay: Relay }
  | { kind: "mediator"; relay: Relay; device: Mediator }
  | { kind: "party"; relay: Relay; device: Party }
  | { kind: "error"; relay?: Relay; message: string };

/** One device per browser profile: the keys never leave this browser's IndexedDB. */
export function App() {
  const [store] = useState(() => new IdbStateStore());
  const [loaded, setLoaded] = useState<Loaded>({ kind: "loading" });

  useEffect(() => {
    void (async () => {
      let relay: Relay | undefined;
      try {
        assertSecureContext(); // a clear error on plain http, before anything needs WebCrypto
        relay = await loadRelay();
        if (!(await store.exists())) return setLoaded({ kind: "none", relay });
        const device = await openDevice(store, browserPlatform);
        assertSameRelay(relay, device.serverUrl, "This browser's device");
        setLoaded(
          device instanceof Mediator ? { kind: "mediator", relay, device } : { kind: "party", relay, device },
        );
      } catch (e) {
        setLoaded({ kind: "error", ...(relay ? { relay } : {}), message: errorText(e) });
      }
    })();
  }, [store]);

  const screen = (): ReactNode => {
    switch (loaded.kind) {
      case "loading":
        return <p className="center muted">Opening this browser's device…</p>;
      case "error":
        return (
          <p role="alert" className="center problem">
            {loaded.message}
          </p>
        );
      case "none": {
        const { relay } = loaded;
        return (
          <Landing
            store={store}
            relay={relay}
            onMediator={(device) => setLoaded({ kind: "mediator", relay, device })}
            onParty={(device) => setLoaded({ kind: "party", relay, device })}
          />
        );
      }
      case "mediator":
        return <MediatorConsole device={loaded.device} />;
      case "party":
        return <PartyView device={loaded.device} />;
    }
  };
  const relay = loaded.kind === "loading" ? undefined : loaded.relay;
  return (
    <>
      {relay?.servedByRelay && <RelayServedWarning relay={relay} />}
      {screen()}
    </>
  );
}
