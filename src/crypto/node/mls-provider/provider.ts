import { randomFillSync } from "node:crypto";
import { defaultCryptoProvider, type CryptoProvider } from "ts-mls";
import { CIPHER_SUITE } from "../../mls/suite.js";
import { hkdfSha256, sha256 } from "./hash.js";
import { nodeHpke } from "./hpke.js";
import { ed25519Signature } from "./signature.js";

/**
 * ts-mls's crypto on node:crypto (OpenSSL) for the caucus suite, MLS_128_DHKEMX25519_AES128GCM_
 * SHA256_Ed25519. Synchronous primitives instead of a WebCrypto promise per call, and signature
 * keys imported once instead of on every message: several times the default provider's message
 * throughput (bench/crypto.ts; figures in bench/README.md). Any other suite is the default's.
 */
export const nodeCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs) {
    if (cs.name !== CIPHER_SUITE) return defaultCryptoProvider.getCiphersuiteImpl(cs);
    return {
      name: cs.name,
      hash: sha256,
      kdf: hkdfSha256,
      signature: ed25519Signature,
      hpke: await nodeHpke(cs.hpke),
      rng: { randomBytes: (n) => randomFillSync(new Uint8Array(n)) },
    };
  },
};
