import { useId, useState } from "react";
import type { HandlerView } from "../../sdk/index.js";
import { QrCode } from "./qr-code.js";
import { isVerified, useVerifiedPeers } from "./verified-peers.js";

/** Whose code this is, for "Mark as verified": this browser's device, and the peer compared with. */
export interface VerifyTarget {
  self: string;
  peer: string;
}

/**
 * A verification code (12 groups of 5 digits, crypto/verification-code.ts) as a figure whose
 * caption names it, so a screen reader announces what the digits are; `hideLabel` keeps the
 * caption for screen readers only where the text around already says it. Optionally as a QR
 * code, and with `verify`, "Mark as verified" and a verified badge, kept across reloads
 * (verified-peers.ts); a code that changed since it was marked says to compare again.
 */
export function VerificationCode({
  code,
  label,
  hideLabel,
  verify,
}: {
  code: string;
  label: string;
  hideLabel?: boolean;
  verify?: VerifyTarget;
}) {
  const id = useId();
  const [qr, setQr] = useState(false);
  return (
    <figure className="verification-code" aria-labelledby={id}>
      <figcaption id={id} className={hideLabel ? "visually-hidden" : undefined}>
        {label}
      </figcaption>
      <pre>{code}</pre>
      {verify && <MarkVerified code={code} target={verify} />}
      <button type="button" className="secondary" aria-expanded={qr} onClick={() => setQr(!qr)}>
        {qr ? "Hide QR code" : "Show as QR code"}
      </button>
      {qr && <QrCode text={code.replace(/\s+/g, "")} label={`${label} as a QR code`} />}
    </figure>
  );
}

function MarkVerified({ code, target }: { code: string; target: VerifyTarget }) {
  const { peers, mark } = useVerifiedPeers(target.self);
  const marked = peers[target.peer];
  if (marked && marked.code !== code)
    return (
      <div role="alert" className="warning">
        <p>This code changed since you marked it verified: compare it again before you trust this device.</p>
        <button type="button" onClick={() => void mark(target.peer, code)}>
          Codes match: mark as verified
        </button>
      </div>
    );
  if (marked)
    return (
      <p className="verified">
        <span className="verified-badge">✓ Verified</span>{" "}
        <span className="muted">on {new Date(marked.at).toLocaleDateString()}</span>{" "}
        <button type="button" className="secondary" onClick={() => void mark(target.peer, undefined)}>
          Unmark
        </button>
      </p>
    );
  return (
    <button type="button" onClick={() => void mark(target.peer, code)}>
      Mark as verified
    </button>
  );
}

/**
 * A caucus's handler devices as the mediator verified them: a badge when every one is, and a
 * warning, as Element shows one, when a party whose devices were verified has one that is not
 * (a device was added, or its key changed): compare its code before trusting what it sends.
 */
export function HandlersTrust({
  self,
  partyName,
  handlers,
}: {
  self: string;
  partyName: string;
  handlers: readonly HandlerView[];
}) {
  const { peers } = useVerifiedPeers(self);
  if (!handlers.length) return null;
  const unverified = handlers.filter((h) => !isVerified(peers, h.deviceId, h.verificationCode));
  const everVerified = handlers.some((h) => peers[h.deviceId]);
  if (!unverified.length)
    return (
      <p className="verified">
        <span className="verified-badge">✓ Verified</span> every handler device of {partyName}
      </p>
    );
  if (!everVerified)
    return <p className="muted">Not verified yet: compare each device's code, then mark it.</p>;
  return (
    <p role="alert" className="warning verify-again">
      {partyName}'s devices changed since you verified them: compare the code of{" "}
      {unverified.map((h) => `device ${h.deviceId.slice(0, 8)}`).join(", ")} again before you trust it.
    </p>
  );
}
