/**
 * The MLS working group's test vectors (test/data/mls, see its README), one runner per file, each
 * run against a given CiphersuiteImpl so that every crypto provider is held to the same cases.
 *
 * The component vectors reach below ts-mls's package index, into its modules (`ts-mls/<module>.js`,
 * a public subpath of its exports map): key schedule, secret tree, message protection and the
 * rest are not exported from the index, but they are the functions its group operations call with
 * the provider's primitives, so a provider that passes here is the one our caucuses run on.
 *
 * Besides reproducing every value, the runners check that tampered inputs are refused (a flipped
 * signature, ciphertext, tag or key), so a provider that accepts everything cannot pass.
 */
import { readFileSync } from "node:fs";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  acceptAll,
  bytesToBase64,
  ciphersuites,
  decodeMlsMessage,
  defaultAuthenticationService,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  joinGroup,
  makePskIndex,
  processMessage,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type ClientConfig,
  type ClientState,
  type FramedContent,
  type GroupContext,
  type MLSMessage,
  type PreSharedKeyID,
  type PrivateKeyPackage,
  type PrivateMessage,
  type PublicMessage,
  type RatchetTree,
} from "ts-mls";
import { decodeAuthenticatedContent } from "ts-mls/authenticatedContent.js";
import { decodeCommit, encodeCommit } from "ts-mls/commit.js";
import { refhash } from "ts-mls/crypto/hash.js";
import { decryptWithLabel, encryptWithLabel } from "ts-mls/crypto/hpke.js";
import { deriveSecret, deriveTreeSecret, expandWithLabel } from "ts-mls/crypto/kdf.js";
import { signWithLabel, verifyWithLabel } from "ts-mls/crypto/signature.js";
import { createContentCommitSignature } from "ts-mls/framedContent.js";
import { encodeGroupContext } from "ts-mls/groupContext.js";
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from "ts-mls/groupInfo.js";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { initializeEpoch, mlsExporter } from "ts-mls/keySchedule.js";
import {
  protect,
  protectApplicationData,
  protectProposal,
  unprotectPrivateMessage,
} from "ts-mls/messageProtection.js";
import {
  protectProposalPublic,
  protectPublicMessage,
  unprotectPublicMessage,
} from "ts-mls/messageProtectionPublic.js";
import { computePskSecret } from "ts-mls/presharedkey.js";
import { decodeProposal, encodeProposal } from "ts-mls/proposal.js";
import { decodeRatchetTree } from "ts-mls/ratchetTree.js";
import { expandSenderDataKey, expandSenderDataNonce } from "ts-mls/sender.js";
import { createSecretTree, deriveKey, deriveNonce, ratchetUntil } from "ts-mls/secretTree.js";
import { createConfirmedHash, createInterimHash } from "ts-mls/transcriptHash.js";
import { decryptGroupInfo, decryptGroupSecrets } from "ts-mls/welcome.js";
import { expect } from "vitest";
import { toHex } from "../../src/protocol/encoding.js";

export const SUITE = 1; // MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: the one suite we deploy

type Case = { cipher_suite: number };

/** The suite-1 cases of one vector file, named "<file> #<index in the file>". */
export function suiteOneCases<C extends Case>(file: string): [string, C][] {
  const all = JSON.parse(readFileSync(new URL(`../data/mls/${file}`, import.meta.url), "utf8")) as C[];
  return all
    .map((c, i) => [`${file.replace(/\.json$/, "")} #${i}`, c] as [string, C])
    .filter(([, c]) => c.cipher_suite === SUITE);
}

const bytes = hexToBytes;
const hex = (b: Uint8Array) => toHex(b);

/** A copy with one bit flipped: what every "tampered" check feeds in. */
export function flipped(b: Uint8Array, at = 0): Uint8Array {
  const out = b.slice();
  out[at % out.length]! ^= 0x01;
  return out;
}

function suiteName(id: number): CiphersuiteName {
  const entry = Object.entries(ciphersuites).find(([, v]) => v === id);
  if (!entry) throw new Error(`unknown cipher suite ${id}`);
  return entry[0] as CiphersuiteName;
}

function groupContext(c: {
  cipher_suite: number;
  group_id: string;
  epoch: number;
  tree_hash: string;
  confirmed_transcript_hash: string;
}): GroupContext {
  return {
    version: "mls10",
    cipherSuite: suiteName(c.cipher_suite),
    groupId: bytes(c.group_id),
    epoch: BigInt(c.epoch),
    treeHash: bytes(c.tree_hash),
    confirmedTranscriptHash: bytes(c.confirmed_transcript_hash),
    extensions: [],
  };
}

function decode(hexMessage: string): MLSMessage {
  const decoded = decodeMlsMessage(bytes(hexMessage), 0);
  if (!decoded) throw new Error("undecodable MLSMessage");
  return decoded[0];
}

// ---------------------------------------------------------------------------------------------
// crypto-basics.json: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel,
// EncryptWithLabel.

export interface CryptoBasicsCase extends Case {
  ref_hash: { label: string; value: string; out: string };
  expand_with_label: { secret: string; label: string; context: string; length: number; out: string };
  derive_secret: { secret: string; label: string; out: string };
  derive_tree_secret: { secret: string; label: string; generation: number; length: number; out: string };
  sign_with_label: { priv: string; pub: string; content: string; label: string; signature: string };
  encrypt_with_label: {
    priv: string;
    pub: string;
    label: string;
    context: string;
    plaintext: string;
    kem_output: string;
    ciphertext: string;
  };
}

export async function cryptoBasics(c: CryptoBasicsCase, cs: CiphersuiteImpl): Promise<void> {
  const r = c.ref_hash;
  expect(hex(await refhash(r.label, bytes(r.value), cs.hash))).toBe(r.out);

  const e = c.expand_with_label;
  expect(hex(await expandWithLabel(bytes(e.secret), e.label, bytes(e.context), e.length, cs.kdf))).toBe(
    e.out,
  );

  const d = c.derive_secret;
  expect(hex(await deriveSecret(bytes(d.secret), d.label, cs.kdf))).toBe(d.out);

  const t = c.derive_tree_secret;
  expect(hex(await deriveTreeSecret(bytes(t.secret), t.label, t.generation, t.length, cs.kdf))).toBe(t.out);

  const s = c.sign_with_label;
  const [pub, content] = [bytes(s.pub), bytes(s.content)];
  expect(await verifyWithLabel(pub, s.label, content, bytes(s.signature), cs.signature)).toBe(true);
  expect(await verifyWithLabel(pub, s.label, content, flipped(bytes(s.signature)), cs.signature)).toBe(false);
  expect(await verifyWithLabel(pub, s.label, flipped(content), bytes(s.signature), cs.signature)).toBe(false);
  // Ed25519 is deterministic: our signature must be the vector's, byte for byte.
  const ours = await signWithLabel(bytes(s.priv), s.label, content, cs.signature);
  expect(hex(ours)).toBe(s.signature);

  const h = c.encrypt_with_label;
  const privateKey = await cs.hpke.importPrivateKey(bytes(h.priv));
  const publicKey = await cs.hpke.importPublicKey(bytes(h.pub));
  const open = (kemOutput: Uint8Array, ciphertext: Uint8Array) =>
    decryptWithLabel(privateKey, h.label, bytes(h.context), kemOutput, ciphertext, cs.hpke);
  expect(hex(await open(bytes(h.kem_output), bytes(h.ciphertext)))).toBe(h.plaintext);
  await expect(open(bytes(h.kem_output), flipped(bytes(h.ciphertext)))).rejects.toThrow();
  await expect(open(flipped(bytes(h.kem_output)), bytes(h.ciphertext))).rejects.toThrow();
  // HPKE encryption is randomised: what we seal must open to the same plaintext.
  const sealed = await encryptWithLabel(publicKey, h.label, bytes(h.context), bytes(h.plaintext), cs.hpke);
  expect(hex(await open(sealed.enc, sealed.ct))).toBe(h.plaintext);
  expect(hex(await cs.hpke.exportPublicKey(publicKey))).toBe(h.pub);
  expect(hex(await cs.hpke.exportPrivateKey(privateKey))).toBe(h.priv);
}

// ---------------------------------------------------------------------------------------------
// secret-tree.json: sender-data key and nonce, per-leaf handshake and application ratchets.

interface Generation {
  generation: number;
  handshake_key: string;
  handshake_nonce: string;
  application_key: string;
  application_nonce: string;
}

export interface SecretTreeCase extends Case {
  encryption_secret: string;
  sender_data: { sender_data_secret: string; ciphertext: string; key: string; nonce: string };
  leaves: Generation[][];
}

export async function secretTree(c: SecretTreeCase, cs: CiphersuiteImpl): Promise<void> {
  const sd = c.sender_data;
  const [secret, ciphertext] = [bytes(sd.sender_data_secret), bytes(sd.ciphertext)];
  expect(hex(await expandSenderDataKey(cs, secret, ciphertext))).toBe(sd.key);
  expect(hex(await expandSenderDataNonce(cs, secret, ciphertext))).toBe(sd.nonce);

  const tree = await createSecretTree(c.leaves.length, bytes(c.encryption_secret), cs.kdf);
  for (const [leaf, generations] of c.leaves.entries()) {
    const node = tree[leaf * 2];
    if (!node) throw new Error(`no secret tree node for leaf ${leaf}`);
    for (const g of generations) {
      const [handshake] = await ratchetUntil(node.handshake, g.generation, defaultKeyRetentionConfig, cs.kdf);
      expect(hex(await deriveKey(handshake.secret, g.generation, cs))).toBe(g.handshake_key);
      expect(hex(await deriveNonce(handshake.secret, g.generation, cs))).toBe(g.handshake_nonce);
      const [application] = await ratchetUntil(
        node.application,
        g.generation,
        defaultKeyRetentionConfig,
        cs.kdf,
      );
      expect(hex(await deriveKey(application.secret, g.generation, cs))).toBe(g.application_key);
      expect(hex(await deriveNonce(application.secret, g.generation, cs))).toBe(g.application_nonce);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// key-schedule.json: every epoch secret from init secret, commit secret, PSK secret and context.

interface Epoch {
  group_context: string;
  tree_hash: string;
  confirmed_transcript_hash: string;
  commit_secret: string;
  psk_secret: string;
  joiner_secret: string;
  welcome_secret: string;
  init_secret: string;
  sender_data_secret: string;
  encryption_secret: string;
  exporter_secret: string;
  external_secret: string;
  confirmation_key: string;
  membership_key: string;
  resumption_psk: string;
  epoch_authenticator: string;
  external_pub: string;
  exporter: { label: string; context: string; length: number; secret: string };
}

export interface KeyScheduleCase extends Case {
  group_id: string;
  initial_init_secret: string;
  epochs: Epoch[];
}

export async function keySchedule(c: KeyScheduleCase, cs: CiphersuiteImpl): Promise<void> {
  let initSecret: Uint8Array = bytes(c.initial_init_secret);
  for (const [n, e] of c.epochs.entries()) {
    const context = groupContext({ ...c, epoch: n, ...e });
    expect(hex(encodeGroupContext(context))).toBe(e.group_context);
    const s = await initializeEpoch(initSecret, bytes(e.commit_secret), context, bytes(e.psk_secret), cs.kdf);
    const k = s.keySchedule;
    expect({
      joiner: hex(s.joinerSecret),
      welcome: hex(s.welcomeSecret),
      encryption: hex(s.encryptionSecret),
      init: hex(k.initSecret),
      senderData: hex(k.senderDataSecret),
      exporter: hex(k.exporterSecret),
      external: hex(k.externalSecret),
      confirmation: hex(k.confirmationKey),
      membership: hex(k.membershipKey),
      resumption: hex(k.resumptionPsk),
      authenticator: hex(k.epochAuthenticator),
    }).toEqual({
      joiner: e.joiner_secret,
      welcome: e.welcome_secret,
      encryption: e.encryption_secret,
      init: e.init_secret,
      senderData: e.sender_data_secret,
      exporter: e.exporter_secret,
      external: e.external_secret,
      confirmation: e.confirmation_key,
      membership: e.membership_key,
      resumption: e.resumption_psk,
      authenticator: e.epoch_authenticator,
    });
    // external_pub is the public half of KEM.DeriveKeyPair(external_secret): HPKE's X25519.
    const external = await cs.hpke.deriveKeyPair(k.externalSecret);
    expect(hex(await cs.hpke.exportPublicKey(external.publicKey))).toBe(e.external_pub);
    const x = e.exporter;
    expect(hex(await mlsExporter(k.exporterSecret, x.label, bytes(x.context), x.length, cs))).toBe(x.secret);
    initSecret = k.initSecret;
  }
}

// ---------------------------------------------------------------------------------------------
// message-protection.json: public and private proposals and commits, private application data;
// unprotecting the vector's messages, and protecting our own and unprotecting them again.

export interface MessageProtectionCase extends Case {
  group_id: string;
  epoch: number;
  tree_hash: string;
  confirmed_transcript_hash: string;
  signature_priv: string;
  signature_pub: string;
  encryption_secret: string;
  sender_data_secret: string;
  membership_key: string;
  proposal: string;
  proposal_pub: string;
  proposal_priv: string;
  commit: string;
  commit_pub: string;
  commit_priv: string;
  application: string;
  application_priv: string;
}

/** The vectors' sender is leaf 1; sender-data validation wants a (any) leaf there. */
const senderAtLeafOne: RatchetTree = [
  undefined,
  undefined,
  {
    nodeType: "leaf",
    leaf: {
      leafNodeSource: "commit",
      hpkePublicKey: new Uint8Array(),
      signaturePublicKey: new Uint8Array(),
      capabilities: defaultCapabilities(),
      parentHash: new Uint8Array(),
      extensions: [],
      signature: new Uint8Array(),
      credential: { credentialType: "basic", identity: new Uint8Array() },
    },
  },
];

export async function messageProtection(c: MessageProtectionCase, cs: CiphersuiteImpl): Promise<void> {
  const context = groupContext(c);
  const [signKey, signPub] = [bytes(c.signature_priv), bytes(c.signature_pub)];
  const [membershipKey, senderDataSecret] = [bytes(c.membership_key), bytes(c.sender_data_secret)];
  const proposal = decodeProposal(bytes(c.proposal), 0)?.[0];
  const commit = decodeCommit(bytes(c.commit), 0)?.[0];
  if (!proposal || !commit) throw new Error("undecodable proposal or commit");
  const secrets = () => createSecretTree(2, bytes(c.encryption_secret), cs.kdf);
  const none = new Uint8Array();

  const publicOf = (message: string) => {
    const m = decode(message);
    if (m.wireformat !== "mls_public_message") throw new Error("not a PublicMessage");
    return m.publicMessage;
  };
  const privateOf = (message: string) => {
    const m = decode(message);
    if (m.wireformat !== "mls_private_message") throw new Error("not a PrivateMessage");
    return m.privateMessage;
  };
  const fromPublic = async (m: PublicMessage) =>
    (await unprotectPublicMessage(membershipKey, context, [], m, cs, signPub)).content;
  const fromPrivate = async (m: PrivateMessage) =>
    (
      await unprotectPrivateMessage(
        senderDataSecret,
        m,
        await secrets(),
        senderAtLeafOne,
        context,
        defaultKeyRetentionConfig,
        cs,
        signPub,
      )
    ).content.content;
  const proposalOf = (f: FramedContent) => f.contentType === "proposal" && hex(encodeProposal(f.proposal));
  const commitOf = (f: FramedContent) => f.contentType === "commit" && hex(encodeCommit(f.commit));
  const applicationOf = (f: FramedContent) => f.contentType === "application" && hex(f.applicationData);

  // The vector's own messages.
  expect(proposalOf(await fromPublic(publicOf(c.proposal_pub)))).toBe(c.proposal);
  expect(commitOf(await fromPublic(publicOf(c.commit_pub)))).toBe(c.commit);
  expect(proposalOf(await fromPrivate(privateOf(c.proposal_priv)))).toBe(c.proposal);
  expect(commitOf(await fromPrivate(privateOf(c.commit_priv)))).toBe(c.commit);
  expect(applicationOf(await fromPrivate(privateOf(c.application_priv)))).toBe(c.application);

  // Tampered: a flipped ciphertext byte, or a wrong membership key, must be refused.
  const application = privateOf(c.application_priv);
  await expect(
    fromPrivate({ ...application, ciphertext: flipped(application.ciphertext, 40) }),
  ).rejects.toThrow();
  await expect(
    unprotectPublicMessage(flipped(membershipKey), context, [], publicOf(c.proposal_pub), cs, signPub),
  ).rejects.toThrow();

  // Ours, protected with the provider under test, then unprotected again.
  const confirmationTag = cs.rng.randomBytes(32);
  const signedCommit = async (wireformat: "mls_public_message" | "mls_private_message") => {
    const sender = { senderType: "member" as const, leafIndex: 1 };
    const signed = await createContentCommitSignature(
      context,
      wireformat,
      commit,
      sender,
      none,
      signKey,
      cs.signature,
    );
    return {
      content: signed.framedContent,
      auth: { contentType: "commit" as const, signature: signed.signature, confirmationTag },
    };
  };
  const publicProposal = await protectProposalPublic(signKey, membershipKey, context, none, proposal, 1, cs);
  expect(proposalOf(await fromPublic(publicProposal.publicMessage))).toBe(c.proposal);
  const publicCommit = {
    wireformat: "mls_public_message" as const,
    ...(await signedCommit("mls_public_message")),
  };
  expect(
    commitOf(await fromPublic(await protectPublicMessage(membershipKey, context, publicCommit, cs))),
  ).toBe(c.commit);
  const data = bytes(c.application);
  const ours = await protectApplicationData(
    signKey,
    senderDataSecret,
    data,
    none,
    context,
    await secrets(),
    1,
    defaultPaddingConfig,
    cs,
  );
  expect(applicationOf(await fromPrivate(ours.privateMessage))).toBe(c.application);
  const privateProposal = await protectProposal(
    signKey,
    senderDataSecret,
    proposal,
    none,
    context,
    await secrets(),
    1,
    defaultPaddingConfig,
    cs,
  );
  expect(proposalOf(await fromPrivate(privateProposal.privateMessage))).toBe(c.proposal);
  const privateCommit = await signedCommit("mls_private_message");
  const sealed = await protect(
    senderDataSecret,
    none,
    context,
    await secrets(),
    { ...privateCommit.content, auth: privateCommit.auth },
    1,
    defaultPaddingConfig,
    cs,
  );
  expect(commitOf(await fromPrivate(sealed.privateMessage))).toBe(c.commit);
}

// ---------------------------------------------------------------------------------------------
// transcript-hashes.json: the confirmation tag, confirmed and interim transcript hashes.

export interface TranscriptHashesCase extends Case {
  confirmation_key: string;
  authenticated_content: string;
  interim_transcript_hash_before: string;
  confirmed_transcript_hash_after: string;
  interim_transcript_hash_after: string;
}

export async function transcriptHashes(c: TranscriptHashesCase, cs: CiphersuiteImpl): Promise<void> {
  const content = decodeAuthenticatedContent(bytes(c.authenticated_content), 0)?.[0];
  if (content?.content.contentType !== "commit" || content.auth.contentType !== "commit")
    throw new Error("authenticated_content is not a commit");
  const { confirmationTag } = content.auth;
  const confirmed = bytes(c.confirmed_transcript_hash_after);
  const key = bytes(c.confirmation_key);
  expect(await cs.hash.verifyMac(key, confirmationTag, confirmed)).toBe(true);
  expect(await cs.hash.verifyMac(flipped(key), confirmationTag, confirmed)).toBe(false);
  expect(await cs.hash.verifyMac(key, flipped(confirmationTag), confirmed)).toBe(false);
  const input = {
    wireformat: content.wireformat,
    content: content.content,
    signature: content.auth.signature,
  };
  expect(hex(await createConfirmedHash(bytes(c.interim_transcript_hash_before), input, cs.hash))).toBe(
    c.confirmed_transcript_hash_after,
  );
  expect(hex(await createInterimHash(confirmed, confirmationTag, cs.hash))).toBe(
    c.interim_transcript_hash_after,
  );
}

// ---------------------------------------------------------------------------------------------
// psk_secret.json: the PSK secret from zero or more external PSKs.

export interface PskSecretCase extends Case {
  psks: { psk_id: string; psk: string; psk_nonce: string }[];
  psk_secret: string;
}

export async function pskSecret(c: PskSecretCase, cs: CiphersuiteImpl): Promise<void> {
  const psks = c.psks.map((p): [PreSharedKeyID, Uint8Array] => [
    { psktype: "external", pskId: bytes(p.psk_id), pskNonce: bytes(p.psk_nonce) },
    bytes(p.psk),
  ]);
  expect(hex(await computePskSecret(psks, cs))).toBe(c.psk_secret);
}

// ---------------------------------------------------------------------------------------------
// welcome.json: decrypting a Welcome's group secrets and group info, checking tag and signature.

export interface WelcomeCase extends Case {
  init_priv: string;
  key_package: string;
  signer_pub: string;
  welcome: string;
}

export async function welcome(c: WelcomeCase, cs: CiphersuiteImpl): Promise<void> {
  const w = decode(c.welcome);
  const kp = decode(c.key_package);
  if (w.wireformat !== "mls_welcome" || kp.wireformat !== "mls_key_package")
    throw new Error("bad welcome vector");
  const ref = await makeKeyPackageRef(kp.keyPackage, cs.hash);
  const initKey = await cs.hpke.importPrivateKey(bytes(c.init_priv));
  const secrets = await decryptGroupSecrets(initKey, ref, w.welcome, cs.hpke);
  if (!secrets) throw new Error("group secrets did not decrypt");
  const pskSecret = new Uint8Array(cs.kdf.size);
  const info = await decryptGroupInfo(w.welcome, secrets.joinerSecret, pskSecret, cs);
  if (!info) throw new Error("group info did not decrypt");
  expect(await verifyGroupInfoConfirmationTag(info, secrets.joinerSecret, pskSecret, cs)).toBe(true);
  expect(await verifyGroupInfoSignature(info, bytes(c.signer_pub), cs.signature)).toBe(true);
  // The wrong joiner secret opens nothing; another key's signature does not verify.
  const wrongJoiner = flipped(secrets.joinerSecret);
  expect(
    await decryptGroupInfo(w.welcome, wrongJoiner, pskSecret, cs).catch(() => undefined),
  ).toBeUndefined();
  expect(await verifyGroupInfoSignature(info, flipped(bytes(c.signer_pub)), cs.signature)).toBe(false);
}

// ---------------------------------------------------------------------------------------------
// passive-client-*.json: join from a Welcome (with the ratchet tree in the Welcome, or given
// beside it), then process every epoch's proposals and commit; each epoch authenticator must match.

export interface PassiveClientCase extends Case {
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

/**
 * The exported defaults, as `defaultClientConfig` is not exported. The vectors' key packages
 * carry lifetimes long past, so lifetime checks on received key packages stay off (as in the
 * defaults); everything else — signatures, tree hashes, parent hashes — is checked.
 */
const passiveClientConfig: ClientConfig = {
  keyRetentionConfig: defaultKeyRetentionConfig,
  lifetimeConfig: { ...defaultLifetimeConfig, validateLifetimeOnReceive: false },
  keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
  paddingConfig: defaultPaddingConfig,
  authService: defaultAuthenticationService,
};

/** Joins, then processes every epoch; returns each epoch authenticator reached, in hex. */
export async function passiveClient(c: PassiveClientCase, cs: CiphersuiteImpl): Promise<string[]> {
  const kp = decode(c.key_package);
  const w = decode(c.welcome);
  if (kp.wireformat !== "mls_key_package" || w.wireformat !== "mls_welcome") throw new Error("bad vector");
  const privateKeys: PrivateKeyPackage = {
    initPrivateKey: bytes(c.init_priv),
    hpkePrivateKey: bytes(c.encryption_priv),
    signaturePrivateKey: bytes(c.signature_priv),
  };
  // makePskIndex looks external PSKs up by bytesToBase64 of their id.
  const psks: Record<string, Uint8Array> = {};
  for (const { psk_id, psk } of c.external_psks) psks[bytesToBase64(bytes(psk_id))] = bytes(psk);
  const tree = c.ratchet_tree === null ? undefined : decodeRatchetTree(bytes(c.ratchet_tree), 0)?.[0];
  if (c.ratchet_tree !== null && !tree) throw new Error("undecodable ratchet_tree");

  let state: ClientState = await joinGroup(
    w.welcome,
    kp.keyPackage,
    privateKeys,
    makePskIndex(undefined, psks),
    cs,
    tree,
    undefined,
    passiveClientConfig,
  );
  const reached = [hex(state.keySchedule.epochAuthenticator)];
  for (const epoch of c.epochs) {
    for (const m of [...epoch.proposals, epoch.commit]) {
      const message = decode(m);
      if (message.wireformat !== "mls_public_message" && message.wireformat !== "mls_private_message")
        throw new Error(`expected a handshake message, got ${message.wireformat}`);
      const result = await processMessage(message, state, makePskIndex(state, psks), acceptAll, cs);
      if (result.kind !== "newState") throw new Error("handshake message decrypted as application data");
      state = result.newState;
    }
    reached.push(hex(state.keySchedule.epochAuthenticator));
  }
  return reached;
}

export function expectedAuthenticators(c: PassiveClientCase): string[] {
  return [c.initial_epoch_authenticator, ...c.epochs.map((e) => e.epoch_authenticator)];
}
