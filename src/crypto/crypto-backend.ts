import { defaultCryptoProvider, type CryptoProvider } from "ts-mls";
import { nobleEd25519, type Ed25519 } from "./ed25519.js";

/**
 * Which implementation of the primitives a device uses. Chosen once per runtime by the sdk's
 * runtime adapter, the one module that knows where it runs: `sdk/node.ts` installs node:crypto
 * (`crypto/node/backend.ts`), `sdk/browser.ts` WebCrypto (`crypto/browser/backend.ts`). Shared
 * code never chooses; it asks here (`cipherSuite()` for MLS, `identity.ts` for identity keys).
 * Until an adapter has spoken (a unit test importing crypto directly), the portable backend is
 * used: ts-mls's own default provider and @noble/curves, exactly what ran before backends existed.
 *
 * Every MLS provider installed here must first pass every suite-1 case of the MLS working group's
 * vectors (test/mls-conformance.test.ts runs them against each).
 */
export interface CryptoBackend {
  readonly name: string;
  /** ts-mls primitives (hash, KDF, AEAD, HPKE, signatures) for the caucus cipher suite */
  readonly mls: CryptoProvider;
  /** identity-key signatures: credential chains, invites, channel, anchor and removal proofs */
  readonly ed25519: Ed25519;
  /**
   * A synchronous SHA-512 faster than @noble/hashes' (the default): verification codes iterate it
   * 10,400 times per code, about 50 ms in JavaScript on a small machine, every time a command
   * shows one (issue 12, item 9). WebCrypto has no synchronous digest: the browser has none.
   */
  readonly sha512?: (data: Uint8Array) => Uint8Array;
}

export const portableBackend: CryptoBackend = {
  name: "portable",
  mls: defaultCryptoProvider,
  ed25519: nobleEd25519,
};

let selected: CryptoBackend = portableBackend;

export function useCryptoBackend(backend: CryptoBackend): void {
  selected = backend;
}

export function cryptoBackend(): CryptoBackend {
  return selected;
}
