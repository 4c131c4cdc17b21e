import { BackchannelError } from "../../protocol/index.js";

/** The browser cannot do what the console needs; the code says what, the message how to fix it. */
export class BrowserSupportError extends BackchannelError {
  declare readonly code: "insecure_context";

  constructor(code: "insecure_context", message: string) {
    super(code, message);
  }
}

/**
 * WebCrypto exists only in secure contexts: a console opened over plain http from anywhere but
 * localhost has no crypto.subtle, and must say so rather than fail on `undefined`.
 */
export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle as SubtleCrypto | undefined;
  if (!s)
    throw new BrowserSupportError(
      "insecure_context",
      "this page is not a secure context, so the browser withholds WebCrypto: open the console over https (or on localhost)",
    );
  return s;
}
