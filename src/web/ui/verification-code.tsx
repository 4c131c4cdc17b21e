import { useId } from "react";

/**
 * A verification code (12 groups of 5 digits, crypto/verification-code.ts) as a figure whose
 * caption names it, so a screen reader announces what the digits are; `hideLabel` keeps the
 * caption for screen readers only where the text around already says it.
 */
export function VerificationCode({
  code,
  label,
  hideLabel,
}: {
  code: string;
  label: string;
  hideLabel?: boolean;
}) {
  const id = useId();
  return (
    <figure className="verification-code" aria-labelledby={id}>
      <figcaption id={id} className={hideLabel ? "visually-hidden" : undefined}>
        {label}
      </figcaption>
      <pre>{code}</pre>
    </figure>
  );
}
