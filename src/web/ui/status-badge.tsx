import type { ConnectionStatus } from "./use-device.js";

export function StatusBadge({ status }: { status: ConnectionStatus }) {
  const text = status === "connected" ? "Live" : status === "reconnecting" ? "Reconnecting…" : "Connecting…";
  return (
    <p className={`status status-${status}`} role="status" aria-live="polite">
      {text}
    </p>
  );
}
