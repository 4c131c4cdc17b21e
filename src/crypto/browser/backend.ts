import type { CryptoBackend } from "../crypto-backend.js";
import { nobleEd25519 } from "../ed25519.js";
import { webCryptoProvider } from "./mls-provider.js";

/**
 * The browser: MLS on WebCrypto; identity signatures on @noble/curves, because roster checks are
 * synchronous and WebCrypto is not. Installed by sdk/browser.ts.
 */
export const browserCryptoBackend: CryptoBackend = {
  name: "webcrypto",
  mls: webCryptoProvider,
  ed25519: nobleEd25519,
};
