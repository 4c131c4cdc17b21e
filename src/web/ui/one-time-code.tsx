import { useState } from "react";
import { QrCode } from "./qr-code.js";

/**
 * A code shown once, with a copy button; "Done" hides it for good. With `shortCode`, its short
 * form comes first, in groups to read aloud; the long form and its QR code stay below.
 */
export function OneTimeCode(props: {
  code: string;
  shortCode?: string;
  label: string;
  note: string;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState(false);
  const [qr, setQr] = useState(false);
  return (
    <div className="invite-code" role="group" aria-label={props.label}>
      <p>
        <strong>Shown once.</strong> {props.note}
      </p>
      {props.shortCode !== undefined && (
        <p className="short-code">
          To read aloud (works once, on this relay):{" "}
          <output aria-label={`${props.label}, short form`}>{props.shortCode}</output>
        </p>
      )}
      <textarea
        readOnly
        rows={4}
        value={props.code}
        aria-label={props.label}
        onFocus={(e) => e.currentTarget.select()}
      />
      <button
        type="button"
        onClick={() =>
          void navigator.clipboard.writeText(props.code).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? "Copied" : "Copy"}
      </button>
      <button type="button" className="secondary" aria-expanded={qr} onClick={() => setQr(!qr)}>
        {qr ? "Hide QR code" : "Show as QR code"}
      </button>
      <button type="button" className="secondary" onClick={props.onDone}>
        Done
      </button>
      {qr && <QrCode text={props.code} label={`${props.label} as a QR code`} ecc="low" />}
    </div>
  );
}
