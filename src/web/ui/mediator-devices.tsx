import { useRef, useState } from "react";
import type { Mediator, MediatorDeviceView } from "../../sdk/index.js";
import { focusLater } from "./focus.js";
import { OneTimeCode } from "./one-time-code.js";
import { plural } from "./words.js";
import { useAction } from "./use-device.js";

/** The mediator's own devices (its staff): link another one, or remove one (re-keys its caucuses). */
export function MediatorDevices({
  device,
  devices,
}: {
  device: Mediator;
  devices: readonly MediatorDeviceView[];
}) {
  const [code, setCode] = useState<string>();
  const { busy, error, run } = useAction();
  const box = useRef<HTMLElement>(null);
  const focusIn = (selector: string) => focusLater(() => box.current?.querySelector<HTMLElement>(selector));
  return (
    <section aria-labelledby="mediator-devices-title" className="mediator-devices" ref={box}>
      <h2 id="mediator-devices-title">Mediator devices ({Math.max(devices.length, 1)})</h2>
      <ul>
        {devices.length === 0 && <li>This device</li>}
        {devices.map((d) => (
          <li key={d.deviceId}>
            {d.thisDevice ? "This device" : `Device ${d.deviceId.slice(0, 8)}`}
            <span className="muted"> · {plural(d.caucuses.length, "caucus", "caucuses")}</span>
            {!d.thisDevice && (
              <button
                type="button"
                className="danger"
                disabled={busy}
                aria-label={`Remove mediator device ${d.deviceId.slice(0, 8)}`}
                onClick={() => {
                  if (
                    window.confirm(
                      "Remove this mediator device? Every caucus it is in is re-keyed; it will read nothing sent afterwards.",
                    )
                  )
                    void run(async () => {
                      await device.removeMediatorDevice(d.deviceId);
                      focusIn("h2");
                    });
                }}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {code ? (
        <OneTimeCode
          code={code}
          label="Link code for a staff device"
          note="It carries your mediator key: give it only to your own staff, out of band. It works once."
          onDone={() => {
            setCode(undefined);
            focusIn(".link-staff");
          }}
        />
      ) : (
        <button
          type="button"
          className="link-staff"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              setCode((await device.link()).code);
              focusIn(".invite-code textarea");
            })
          }
        >
          Link a staff device
        </button>
      )}
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
    </section>
  );
}
