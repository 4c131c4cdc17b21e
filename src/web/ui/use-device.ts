import { useCallback, useEffect, useState } from "react";
import type { Device } from "../../sdk/index.js";
import { watch, type WatchHandle } from "../../sdk/watch.js";
import { errorText } from "./error-text.js";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting";

/**
 * Keeps a device live: a WebSocket tells it when to sync (it syncs from its own cursor, so a
 * reconnect after a server restart resumes exactly where it was), and every change re-renders.
 */
export function useDevice(device: Device) {
  const [, setTick] = useState(0);
  const [status, setStatus] = useState<ConnectionStatus>("connecting");
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let handle: WatchHandle | undefined;
    let cancelled = false;
    void watch(
      device,
      () => refresh(),
      (s) => setStatus(s),
      () => refresh(),
    ).then((h) => {
      if (cancelled) h.stop();
      else handle = h;
    });
    return () => {
      cancelled = true;
      handle?.stop();
    };
  }, [device, refresh]);
  return { refresh, status };
}

/** Runs one user action: shows it busy, then its error as a sentence, and re-renders. */
export function useAction(refresh: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = useCallback(
    async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
      setBusy(true);
      setError(undefined);
      try {
        return await fn();
      } catch (e) {
        setError(errorText(e));
        return undefined;
      } finally {
        setBusy(false);
        refresh();
      }
    },
    [refresh],
  );
  return { busy, error, run, setError };
}
