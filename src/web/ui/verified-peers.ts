import { useSyncExternalStore } from "react";
import { IdbStateStore } from "../../sdk/browser.js";

/**
 * Which verification codes this device's user compared and marked as verified ("Mark as
 * verified", as Signal's safety numbers and Element's verified badges): per device of this
 * browser, the code each peer (a handler device, or the mediator) had when it was marked. A
 * verified peer whose code is now different, or a caucus with a handler device nobody marked,
 * is shown as a warning to compare again.
 *
 * Kept in this browser's IndexedDB beside the device, encrypted the same way (its own
 * IdbStateStore, "backchannel-verified", one part per device of this browser), not in the sdk's
 * device state: it is the user's record of a comparison, which the protocol neither needs nor
 * sends anywhere.
 */
export type VerifiedPeers = Readonly<Record<string, { code: string; at: string }>>;

const store = new IdbStateStore("backchannel-verified");
const cache = new Map<string, VerifiedPeers>();
const listeners = new Set<() => void>();
const loading = new Map<string, Promise<void>>();
const empty: VerifiedPeers = {};

function load(self: string): void {
  if (cache.has(self) || loading.has(self)) return;
  loading.set(
    self,
    store
      .load()
      .then(
        (parts) => parts[self] as VerifiedPeers | undefined,
        () => undefined, // nothing stored yet
      )
      .then((peers) => {
        cache.set(self, peers ?? empty);
        listeners.forEach((l) => l());
      }),
  );
}

const subscribe = (listener: () => void) => {
  listeners.add(listener);
  return () => listeners.delete(listener);
};

/** This device's verified peers, live; `mark` records (or with `undefined`, forgets) one. */
export function useVerifiedPeers(self: string): {
  peers: VerifiedPeers;
  mark: (peer: string, code: string | undefined) => Promise<void>;
} {
  load(self);
  const peers = useSyncExternalStore(subscribe, () => cache.get(self) ?? empty);
  const mark = async (peer: string, code: string | undefined) => {
    await loading.get(self);
    const next: Record<string, { code: string; at: string }> = { ...(cache.get(self) ?? empty) };
    if (code === undefined) delete next[peer];
    else next[peer] = { code, at: new Date().toISOString() };
    await store.update(new Map([[self, next]]));
    cache.set(self, next);
    listeners.forEach((l) => l());
  };
  return { peers, mark };
}

/** Whether `peer` was marked verified with exactly this code. */
export const isVerified = (peers: VerifiedPeers, peer: string, code: string): boolean =>
  peers[peer]?.code === code;
