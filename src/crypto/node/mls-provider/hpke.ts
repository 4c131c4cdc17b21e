import { Dhkem, KemId, XCurveDhkemPrimitives } from "@hpke/common";
import { CipherSuite } from "@hpke/core";
import type { Hpke, HpkeAlgorithm } from "ts-mls";
// ts-mls's adapter from an @hpke/core CipherSuite to its own Hpke interface: the same one its
// default provider uses. Not in the package index; a public subpath of its exports map.
import { makeGenericHpke } from "ts-mls/crypto/implementation/hpke.js";
import { aes128Gcm, NodeAes128Gcm } from "./aead.js";
import { NodeHkdfSha256 } from "./hash.js";
import { x25519 } from "./x25519.js";

/** DHKEM(X25519, HKDF-SHA256): the library's RFC 9180 DHKEM over node:crypto primitives. */
class NodeDhkemX25519HkdfSha256 extends Dhkem {
  override readonly secretSize = 32;
  override readonly encSize = 32;
  override readonly publicKeySize = 32;
  override readonly privateKeySize = 32;

  constructor() {
    // The KEM keys its own KDF with its own suite id, so it gets an instance of its own.
    const kdf = new NodeHkdfSha256();
    super(KemId.DhkemX25519HkdfSha256, new XCurveDhkemPrimitives("X25519", 32, x25519, kdf), kdf);
  }
}

/**
 * HPKE (RFC 9180) for suite 1: the construction (key schedule, encryption contexts, exporter) is
 * @hpke/core's and the DHKEM @hpke/common's, as in ts-mls's default provider; we plug in only the
 * primitives, which both libraries take as parameters: X25519, HKDF-SHA256, AES-128-GCM.
 */
export function nodeHpke(algorithm: HpkeAlgorithm): Promise<Hpke> {
  const suite = new CipherSuite({
    kem: new NodeDhkemX25519HkdfSha256(),
    kdf: new NodeHkdfSha256(),
    aead: new NodeAes128Gcm(),
  });
  return makeGenericHpke(algorithm, aes128Gcm, suite);
}
