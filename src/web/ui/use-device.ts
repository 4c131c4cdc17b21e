import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { watch, type Device, type DeviceSnapshot, type WatchHandle } from "../../sdk/index.js";
import { errorText } from "./error-text.js";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting";

/**
 * Keeps a device live and renders its snapshots: a WebSocket tells it when to sync (it syncs from
 * its own cursor, so a reconnect after a server restart resumes exactly where it was), and the
 * device's snapshot, immutable and unchanged until something changed, drives every render. No
 * crypto runs while rendering: the sdk computed everything a snapshot shows when it changed.
 */
export function useDevice<S extends DeviceSnapshot>(
  device: Device<S>,
): { snapshot: S; status: ConnectionStatus } {
  const snapshot = useSyncExternalStore(device.subscribe, device.getSnapshot);
  const [status, setStatus] = useState<ConnectionStatus>("connecting");
  useEffect(() => {
    let handle: WatchHandle | undefined;
    let cancelled = false;
    void watch(
      device,
      () => undefined,
      (s) => setStatus(s),
    ).then((h) => {
      if (cancelled) h.stop();
      else handle = h;
    });
    return () => {
      cancelled = true;
      handle?.stop();
    };
  }, [device]);
  return { snapshot, status };
}

/** Runs one user action: shows it busy, then its error as a sentence. The snapshot re-renders. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = useCallback(async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await fn();
    } catch (e) {
      setError(errorText(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}
