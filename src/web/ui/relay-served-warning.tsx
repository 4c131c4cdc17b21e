import type { Relay } from "./relay.js";

/**
 * Shown on every screen of a console the relay served (`serve --console`): the relay sent the code
 * that holds this browser's keys, so end-to-end encryption protects nothing from its operator.
 */
export function RelayServedWarning({ relay }: { relay: Relay }) {
  return (
    <aside className="relay-served" aria-label="Served by the relay">
      <strong>Whoever runs this relay could read what is done in it.</strong> This console's code came from
      the relay at {relay.url}, and that code holds this browser's keys. To trust only your own machine, run{" "}
      <code>backchannel console --server {relay.url}</code> and use the address it prints.
    </aside>
  );
}
