import { getCiphersuiteFromName, type CiphersuiteImpl, type CryptoProvider } from "ts-mls";
import { cryptoBackend } from "../crypto-backend.js";

/** The one cipher suite every caucus uses (RFC 9420 §17.1, suite 0x0001). */
export const CIPHER_SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519" as const;

const suites = new WeakMap<CryptoProvider, Promise<CiphersuiteImpl>>();

/** The caucus suite on a given provider, made once per provider. */
export function cipherSuiteOn(provider: CryptoProvider): Promise<CiphersuiteImpl> {
  let suite = suites.get(provider);
  if (!suite) {
    suite = provider.getCiphersuiteImpl(getCiphersuiteFromName(CIPHER_SUITE));
    suites.set(provider, suite);
  }
  return suite;
}

/** The caucus suite on the provider this runtime selected (crypto-backend.ts). */
export function cipherSuite(): Promise<CiphersuiteImpl> {
  return cipherSuiteOn(cryptoBackend().mls);
}
