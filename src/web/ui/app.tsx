import { lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import type { Mediator, Party } from "../../sdk/index.js";
import { errorText } from "./error-text.js";
import { Landing } from "./landing.js";
import { assertSameRelay, loadRelay, type Relay } from "./relay.js";
import { RelayServedWarning } from "./relay-served-warning.js";

// The sdk (MLS and the rest of the crypto) and the screens that show a device load on demand: a
// browser that holds no device yet shows the landing without them (device-sdk.ts).
const loadSdk = () => import("./device-sdk.js");
const MediatorConsole = lazy(() =>
  import("./mediator-console.js").then((m) => ({ default: m.MediatorConsole })),
);
const PartyView = lazy(() => import("./party-view.js").then((m) => ({ default: m.PartyView })));

/** Whether this browser may hold a device: false only where IndexedDB says it has no database of ours. */
async function mayHoldDevice(name: string): Promise<boolean> {
  if (typeof indexedDB.databases !== "function") return true;
  const databases = await indexedDB.databases().catch(() => undefined);
  return databases === undefined || databases.some((d) => d.name === name);
}

type Loaded =
  | { kind: "loading" }
  | { kind: "none"; relay: Relay }
  | { kind: "mediator"; relay: Relay; device: Mediator }
  | { kind: "party"; relay: Relay; device: Party }
  | { kind: "error"; relay?: Relay; message: string };

/** IdbStateStore's default database: one device per browser profile. */
const storeName = "backchannel";
const opening = (
  <main>
    <p className="center muted">Opening this browser's device…</p>
  </main>
);

/** One device per browser profile: the keys never leave this browser's IndexedDB. */
export function App() {
  const [loaded, setLoaded] = useState<Loaded>({ kind: "loading" });

  useEffect(() => {
    void (async () => {
      let relay: Relay | undefined;
      try {
        // A clear error on plain http, before anything needs WebCrypto.
        if (!window.isSecureContext) (await loadSdk()).assertSecureContext();
        relay = await loadRelay();
        if (!(await mayHoldDevice(storeName))) return setLoaded({ kind: "none", relay });
        const { IdbStateStore, Mediator, openDevice, browserPlatform } = await loadSdk();
        const store = new IdbStateStore(storeName);
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
  }, []);

  const screen = (): ReactNode => {
    switch (loaded.kind) {
      case "loading":
        return opening;
      case "error":
        return (
          <main>
            <p role="alert" className="center problem">
              {loaded.message}
            </p>
          </main>
        );
      case "none": {
        const { relay } = loaded;
        return (
          <Landing
            store={async () => new (await loadSdk()).IdbStateStore(storeName)}
            relay={relay}
            onMediator={(device) => setLoaded({ kind: "mediator", relay, device })}
            onParty={(device) => setLoaded({ kind: "party", relay, device })}
          />
        );
      }
      case "mediator":
        return (
          <Suspense fallback={opening}>
            <MediatorConsole device={loaded.device} />
          </Suspense>
        );
      case "party":
        return (
          <Suspense fallback={opening}>
            <PartyView device={loaded.device} />
          </Suspense>
        );
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
