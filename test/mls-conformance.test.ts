/**
 * RFC 9420 conformance of the MLS stack we ship, checked against the IETF MLS working group's
 * vectors (test/data/mls, see its README for provenance and what each file checks), on every
 * crypto provider a device may run: ts-mls's default, ours on node:crypto (Node: the CLI, the
 * sdk) and ours on WebCrypto (the browser; Node 20 has the same globalThis.crypto.subtle). Caucus
 * encryption rests on ts-mls and on these providers, so a version bump or a provider change that
 * moves the key schedule, tree, transcript or message maths must fail here before it can split a
 * caucus. The team's rule: a provider is used only once it passes every suite-1 case here.
 */
import { defaultCryptoProvider, type CiphersuiteImpl, type CryptoProvider } from "ts-mls";
import { describe, expect, test } from "vitest";
import { webCryptoProvider } from "../src/crypto/browser/mls-provider.js";
import { cipherSuiteOn } from "../src/crypto/mls/suite.js";
import { nodeCryptoProvider } from "../src/crypto/node/mls-provider/provider.js";
import {
  cryptoBasics,
  expectedAuthenticators,
  flipped,
  keySchedule,
  messageProtection,
  passiveClient,
  pskSecret,
  secretTree,
  suiteOneCases,
  transcriptHashes,
  welcome,
  type CryptoBasicsCase,
  type KeyScheduleCase,
  type MessageProtectionCase,
  type PassiveClientCase,
  type PskSecretCase,
  type SecretTreeCase,
  type TranscriptHashesCase,
  type WelcomeCase,
} from "./helpers/mls-vectors.js";

const providers: [string, CryptoProvider][] = [
  ["ts-mls default", defaultCryptoProvider],
  ["node:crypto", nodeCryptoProvider],
  ["WebCrypto", webCryptoProvider],
];

type Run = (cs: CiphersuiteImpl) => Promise<void>;

function cases<C>(file: string, run: (c: C, cs: CiphersuiteImpl) => Promise<unknown>): [string, Run][] {
  return suiteOneCases<C & { cipher_suite: number }>(file).map(([name, c]) => [
    name,
    async (cs) => {
      await run(c, cs);
    },
  ]);
}

const passive = (c: PassiveClientCase, cs: CiphersuiteImpl) =>
  passiveClient(c, cs).then((reached) => expect(reached).toEqual(expectedAuthenticators(c)));

/**
 * Every suite-1 case of every vector file that has any. tree-math.json and deserialization.json
 * have none: they check tree index arithmetic and variable-length integers, which involve no
 * cipher suite and no provider.
 */
const vectors: Record<string, [string, Run][]> = {
  "passive-client-welcome.json": cases("passive-client-welcome.json", passive),
  "passive-client-handling-commit.json": cases("passive-client-handling-commit.json", passive),
  "crypto-basics.json": cases<CryptoBasicsCase>("crypto-basics.json", cryptoBasics),
  "secret-tree.json": cases<SecretTreeCase>("secret-tree.json", secretTree),
  "key-schedule.json": cases<KeyScheduleCase>("key-schedule.json", keySchedule),
  "message-protection.json": cases<MessageProtectionCase>("message-protection.json", messageProtection),
  "transcript-hashes.json": cases<TranscriptHashesCase>("transcript-hashes.json", transcriptHashes),
  "psk_secret.json": cases<PskSecretCase>("psk_secret.json", pskSecret),
  "welcome.json": cases<WelcomeCase>("welcome.json", welcome),
};

// Pinned counts: a vector that stops being selected (format change, filter bug) fails here
// instead of silently shrinking what "conformant" means.
test("selects every suite-1 case of every vector file", () => {
  expect(Object.fromEntries(Object.entries(vectors).map(([file, list]) => [file, list.length]))).toEqual({
    "passive-client-welcome.json": 8,
    "passive-client-handling-commit.json": 13,
    "crypto-basics.json": 1,
    "secret-tree.json": 3,
    "key-schedule.json": 1,
    "message-protection.json": 1,
    "transcript-hashes.json": 1,
    "psk_secret.json": 11,
    "welcome.json": 1,
  });
});

describe.each(providers)("MLS vectors (RFC 9420, suite 1) on the %s provider", (_name, provider) => {
  for (const [file, list] of Object.entries(vectors)) {
    test.each(list)(`${file}: %s`, async (_case, run) => {
      await run(await cipherSuiteOn(provider));
    });
  }
});

/**
 * The vectors have teeth: a provider wrong in one primitive fails them. Each of these breaks the
 * node:crypto provider in one way a buggy provider could be broken, and names a file that must
 * then fail.
 */
const breakages: [string, string, (cs: CiphersuiteImpl) => CiphersuiteImpl][] = [
  [
    "a signature check that accepts anything",
    "crypto-basics.json",
    (cs) => ({ ...cs, signature: { ...cs.signature, verify: () => Promise.resolve(true) } }),
  ],
  [
    "a MAC check that accepts anything",
    "transcript-hashes.json",
    (cs) => ({ ...cs, hash: { ...cs.hash, verifyMac: () => Promise.resolve(true) } }),
  ],
  [
    "HKDF-Expand wrong in its last byte",
    "key-schedule.json",
    (cs) => ({
      ...cs,
      kdf: { ...cs.kdf, expand: async (prk, info, n) => flipped(await cs.kdf.expand(prk, info, n), n - 1) },
    }),
  ],
  [
    "HKDF-Extract ignoring its salt",
    "psk_secret.json",
    (cs) => ({ ...cs, kdf: { ...cs.kdf, extract: (_salt, ikm) => cs.kdf.extract(new Uint8Array(), ikm) } }),
  ],
  [
    "SHA-256 of the wrong bytes",
    "welcome.json",
    (cs) => ({ ...cs, hash: { ...cs.hash, digest: (data) => cs.hash.digest(flipped(data)) } }),
  ],
  [
    "an AEAD that ignores the associated data",
    "message-protection.json",
    (cs) => ({
      ...cs,
      hpke: {
        ...cs.hpke,
        encryptAead: (key, nonce, _aad, plaintext) => cs.hpke.encryptAead(key, nonce, undefined, plaintext),
        decryptAead: (key, nonce, _aad, ciphertext) => cs.hpke.decryptAead(key, nonce, undefined, ciphertext),
      },
    }),
  ],
];

describe("a wrong provider fails the vectors", () => {
  test.each(breakages)("%s fails %s", async (_what, file, breakIt) => {
    const cs = breakIt(await cipherSuiteOn(nodeCryptoProvider));
    const outcomes = await Promise.all(
      (vectors[file] ?? []).map(([, run]) =>
        run(cs).then(
          () => "passed",
          () => "failed",
        ),
      ),
    );
    expect(outcomes).toContain("failed");
  });
});
