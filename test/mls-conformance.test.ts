/**
 * RFC 9420 conformance of the MLS stack we ship, checked against the IETF MLS working group's
 * passive-client vectors (test/data/mls, see its README for provenance). Caucus encryption rests
 * on ts-mls, so a version bump that changes the key schedule, tree or transcript maths must fail
 * here before it can split a caucus. Only the package's public exports are used: that is the
 * surface our own code calls, and deep imports would let the test pass on code we never run.
 */
import { readFileSync } from "node:fs";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  acceptAll,
  bytesToBase64,
  ciphersuites,
  decodeMlsMessage,
  defaultAuthenticationService,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  makePskIndex,
  processMessage,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type ClientConfig,
  type ClientState,
  type MLSMessage,
  type PrivateKeyPackage,
} from "ts-mls";
import { describe, expect, test } from "vitest";
import { toHex } from "../src/protocol/encoding.js";

interface PassiveClientCase {
  cipher_suite: number;
  external_psks: { psk_id: string; psk: string }[];
  key_package: string;
  signature_priv: string;
  encryption_priv: string;
  init_priv: string;
  welcome: string;
  ratchet_tree: string | null;
  initial_epoch_authenticator: string;
  epochs: { proposals: string[]; commit: string; epoch_authenticator: string }[];
}

const SUITE = 1; // MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: the one suite we deploy

function loadCases(file: string): PassiveClientCase[] {
  const url = new URL(`./data/mls/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as PassiveClientCase[];
}

/**
 * Cases with an external `ratchet_tree` need a tree decoder that ts-mls 1.6.4 does not export;
 * the Welcome of the others carries the tree in its ratchet_tree extension.
 */
function selectCases(file: string): [string, PassiveClientCase][] {
  return loadCases(file)
    .map((c, i) => [`${file.replace(/\.json$/, "")} #${i}`, c] as [string, PassiveClientCase])
    .filter(([, c]) => c.cipher_suite === SUITE && c.ratchet_tree === null);
}

// ts-mls exports the name -> id table but not its inverse (getCiphersuiteNameFromId is internal).
function suiteName(id: number): CiphersuiteName {
  const entry = Object.entries(ciphersuites).find(([, v]) => v === id);
  if (!entry) throw new Error(`unknown cipher suite ${id}`);
  return entry[0] as CiphersuiteName;
}

/**
 * Built from the exported defaults because `defaultClientConfig` is not exported. The vectors'
 * key packages carry lifetimes long past, so lifetime checks on received key packages stay off
 * (as in the defaults); everything else — signatures, tree hashes, parent hashes — is checked.
 */
const clientConfig: ClientConfig = {
  keyRetentionConfig: defaultKeyRetentionConfig,
  lifetimeConfig: { ...defaultLifetimeConfig, validateLifetimeOnReceive: false },
  keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
  paddingConfig: defaultPaddingConfig,
  authService: defaultAuthenticationService,
};

function decode(hex: string): MLSMessage {
  const decoded = decodeMlsMessage(hexToBytes(hex), 0);
  if (!decoded) throw new Error("undecodable MLSMessage");
  return decoded[0];
}

function decodeHandshake(hex: string) {
  const m = decode(hex);
  if (m.wireformat !== "mls_public_message" && m.wireformat !== "mls_private_message") {
    throw new Error(`expected a handshake message, got ${m.wireformat}`);
  }
  return m;
}

const impls = new Map<number, Promise<CiphersuiteImpl>>();
function suiteImpl(id: number): Promise<CiphersuiteImpl> {
  let impl = impls.get(id);
  if (!impl) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(suiteName(id)));
    impls.set(id, impl);
  }
  return impl;
}

/** Joins from the Welcome, then processes every epoch; returns each authenticator reached. */
async function runPassiveClient(c: PassiveClientCase): Promise<string[]> {
  const cs = await suiteImpl(c.cipher_suite);
  const kp = decode(c.key_package);
  const welcome = decode(c.welcome);
  if (kp.wireformat !== "mls_key_package") throw new Error("key_package is not a KeyPackage");
  if (welcome.wireformat !== "mls_welcome") throw new Error("welcome is not a Welcome");

  const privateKeys: PrivateKeyPackage = {
    initPrivateKey: hexToBytes(c.init_priv),
    hpkePrivateKey: hexToBytes(c.encryption_priv),
    signaturePrivateKey: hexToBytes(c.signature_priv),
  };
  // makePskIndex looks external PSKs up by bytesToBase64 of their id.
  const externalPsks: Record<string, Uint8Array> = {};
  for (const { psk_id, psk } of c.external_psks) {
    externalPsks[bytesToBase64(hexToBytes(psk_id))] = hexToBytes(psk);
  }

  let state: ClientState = await joinGroup(
    welcome.welcome,
    kp.keyPackage,
    privateKeys,
    makePskIndex(undefined, externalPsks),
    cs,
    undefined,
    undefined,
    clientConfig,
  );
  const reached = [toHex(state.keySchedule.epochAuthenticator)];

  for (const epoch of c.epochs) {
    for (const m of [...epoch.proposals, epoch.commit]) {
      const result = await processMessage(
        decodeHandshake(m),
        state,
        makePskIndex(state, externalPsks),
        acceptAll,
        cs,
      );
      if (result.kind !== "newState") throw new Error("handshake message decrypted as application data");
      state = result.newState;
    }
    reached.push(toHex(state.keySchedule.epochAuthenticator));
  }
  return reached;
}

const welcomeCases = selectCases("passive-client-welcome.json");
const commitCases = selectCases("passive-client-handling-commit.json");

describe("MLS passive-client vectors (RFC 9420, suite 1)", () => {
  // Pinned counts: a vector that stops being selected (format change, filter bug) fails here
  // instead of silently shrinking what "conformant" means.
  test("selects every suite-1 case without an external ratchet tree", () => {
    expect(welcomeCases).toHaveLength(4);
    expect(commitCases).toHaveLength(13);
    // 17 joins plus 26 commits processed epoch by epoch.
    const authenticators = [...welcomeCases, ...commitCases].reduce((n, [, c]) => n + 1 + c.epochs.length, 0);
    expect(authenticators).toBe(43);
  });

  test.each([...welcomeCases, ...commitCases])("%s", async (_name, c) => {
    const expected = [c.initial_epoch_authenticator, ...c.epochs.map((e) => e.epoch_authenticator)];
    expect(await runPassiveClient(c)).toEqual(expected);
  });
});
