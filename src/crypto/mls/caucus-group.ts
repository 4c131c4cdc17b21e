import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultLifetime,
  defaultLifetimeConfig,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  processMessage,
  type ClientConfig,
  type ClientState,
  type IncomingMessageCallback,
  type KeyPackage,
  type PrivateKeyPackage,
} from "ts-mls";
// Not re-exported from the package index, but a public subpath export of the package: we need the
// sender's leaf of an application message, which processMessage does not return.
import { decryptSenderData } from "ts-mls/privateMessage.js";
import { BackchannelError, utf8 } from "../../protocol/index.js";
import { caucusAuthenticationService } from "./authentication-service.js";
import {
  decodeCredential,
  encodeCredential,
  verifyCredential,
  type DeviceCredential,
  type TrustContext,
} from "./credential.js";
import { pad, unpad } from "./padding.js";
import { cipherSuite } from "./suite.js";

export type GroupErrorCode =
  | "anchor_unverified"
  | "group_state_invalid"
  | "key_package_invalid"
  | "member_unknown"
  | "message_invalid"
  | "message_rejected"
  | "roster_untrusted"
  | "sender_unknown"
  | "welcome_invalid";

/** The MLS layer refused a message, a Welcome, a key package or a roster. */
export class GroupError extends BackchannelError {
  declare readonly code: GroupErrorCode;

  constructor(code: GroupErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Old epoch keys are kept only as long as needed: the relay refuses application messages from a
 * stale epoch, and members process events strictly in order, so one past epoch is enough.
 */
/**
 * Rosters already checked, by tree, with the trust they were checked against. ts-mls never edits
 * a ratchet tree in place (a commit makes a new array), so a tree checked once stays as it was:
 * sending again in the same epoch does not check every credential again.
 */
const trustedTrees = new WeakMap<object, TrustContext>();

const keyRetentionConfig = {
  retainKeysForGenerations: 16,
  retainKeysForEpochs: 1,
  maximumForwardRatchetSteps: 1000,
};

function clientConfig(trust: TrustContext): ClientConfig {
  return {
    keyRetentionConfig,
    lifetimeConfig: defaultLifetimeConfig,
    keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
    // We pad to buckets ourselves (padding.ts); MLS-level padding would only add bytes.
    paddingConfig: { kind: "padUntilLength", padUntilLength: 0 },
    authService: caucusAuthenticationService(trust),
  };
}

export interface NewDeviceKeys {
  /** MLS key package (wire bytes) the server hands to the mediator. */
  keyPackage: Uint8Array;
  /** Private half; stays on the device until the Welcome arrives. */
  privatePackage: PrivateKeyPackage;
  publicPackage: KeyPackage;
}

/** A fresh MLS signature key + key package whose credential is made by `certify(mlsPublicKey)`. */
export async function newDeviceKeys(
  certify: (mlsPublicKey: Uint8Array) => DeviceCredential,
): Promise<NewDeviceKeys> {
  const cs = await cipherSuite();
  const signatureKeyPair = await cs.signature.keygen();
  const credential = {
    credentialType: "basic" as const,
    identity: encodeCredential(certify(signatureKeyPair.publicKey)),
  };
  const kp = await generateKeyPackageWithKey(
    credential,
    defaultCapabilities(),
    defaultLifetime,
    [],
    signatureKeyPair,
    cs,
  );
  return {
    keyPackage: encodeMlsMessage({
      version: "mls10",
      wireformat: "mls_key_package",
      keyPackage: kp.publicPackage,
    }),
    privatePackage: kp.privatePackage,
    publicPackage: kp.publicPackage,
  };
}

export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  const decoded = safeDecode(bytes);
  if (decoded?.wireformat !== "mls_key_package")
    throw new GroupError("key_package_invalid", "not an MLS key package");
  return decoded.keyPackage;
}

export function keyPackageCredential(kp: KeyPackage): DeviceCredential | undefined {
  const c = kp.leafNode.credential;
  return c.credentialType === "basic" ? decodeCredential(c.identity) : undefined;
}

function safeDecode(bytes: Uint8Array) {
  try {
    return decodeMlsMessage(bytes, 0)?.[0];
  } catch {
    return undefined;
  }
}

export type Incoming =
  | { kind: "application"; plaintext: Uint8Array; sender: DeviceCredential }
  | { kind: "commit"; committer: DeviceCredential; removedSelf: boolean };

export interface PendingCommit {
  commit: Uint8Array;
  welcome: Uint8Array | undefined;
  /** The epoch the commit was made in (what the relay orders it by). */
  epoch: number;
  /** The group as it will be once the relay has accepted the commit. */
  next: CaucusGroup;
}

/**
 * One caucus's MLS group, behind the few operations we need, so the library can be replaced.
 * Instances are immutable: every operation returns the next group.
 */
export class CaucusGroup {
  private constructor(
    private readonly state: ClientState,
    readonly trust: TrustContext,
  ) {}

  static async create(trust: TrustContext, keys: NewDeviceKeys): Promise<CaucusGroup> {
    const cs = await cipherSuite();
    const state = await createGroup(
      utf8(trust.caucusId),
      keys.publicPackage,
      keys.privatePackage,
      [],
      cs,
      clientConfig(trust),
    );
    return new CaucusGroup(state, trust);
  }

  static async join(
    trust: TrustContext,
    welcome: Uint8Array,
    keys: { publicPackage: KeyPackage; privatePackage: PrivateKeyPackage },
  ): Promise<CaucusGroup> {
    const cs = await cipherSuite();
    const decoded = safeDecode(welcome);
    if (decoded?.wireformat !== "mls_welcome") throw new GroupError("welcome_invalid", "not an MLS welcome");
    let state: ClientState;
    try {
      // ts-mls runs our authentication service over every leaf of the tree it is given.
      state = await joinGroup(
        decoded.welcome,
        keys.publicPackage,
        keys.privatePackage,
        emptyPskIndex,
        cs,
        undefined,
        undefined,
        clientConfig(trust),
      );
    } catch (cause) {
      throw new GroupError("roster_untrusted", `refusing to join: ${(cause as Error).message}`, { cause });
    }
    const group = new CaucusGroup(state, trust);
    group.assertRosterTrusted();
    if (new TextDecoder().decode(state.groupContext.groupId) !== trust.caucusId)
      throw new GroupError("roster_untrusted", "welcome is for another caucus");
    return group;
  }

  static restore(trust: TrustContext, encoded: Uint8Array): CaucusGroup {
    const decoded = decodeGroupState(encoded, 0);
    if (!decoded) throw new GroupError("group_state_invalid", "stored group state is unreadable");
    return new CaucusGroup({ ...decoded[0], clientConfig: clientConfig(trust) }, trust);
  }

  serialize(): Uint8Array {
    return encodeGroupState(this.state);
  }

  get epoch(): number {
    return Number(this.state.groupContext.epoch);
  }

  /** Every member's credential, by leaf. */
  roster(): { leafIndex: number; credential: DeviceCredential | undefined; mlsKey: Uint8Array }[] {
    const out: { leafIndex: number; credential: DeviceCredential | undefined; mlsKey: Uint8Array }[] = [];
    this.state.ratchetTree.forEach((node, i) => {
      if (node?.nodeType !== "leaf") return;
      const c = node.leaf.credential;
      out.push({
        leafIndex: i / 2,
        credential: c.credentialType === "basic" ? decodeCredential(c.identity) : undefined,
        mlsKey: node.leaf.signaturePublicKey,
      });
    });
    return out;
  }

  /** Refuses a group holding a device we cannot certify as the mediator's or this caucus's party's. */
  assertRosterTrusted(): void {
    const tree = this.state.ratchetTree;
    if (trustedTrees.get(tree) === this.trust) return;
    const ids = new Set<string>();
    for (const m of this.roster()) {
      if (!m.credential || !verifyCredential(m.credential, m.mlsKey, this.trust))
        throw new GroupError(
          "roster_untrusted",
          `caucus roster holds a device that is not certified for it (leaf ${m.leafIndex})`,
        );
      if (ids.has(m.credential.deviceId))
        throw new GroupError("roster_untrusted", "caucus roster lists a device twice");
      ids.add(m.credential.deviceId);
    }
    trustedTrees.set(tree, this.trust);
  }

  private leafCredential(leafIndex: number): DeviceCredential {
    const node = this.state.ratchetTree[leafIndex * 2];
    const c = node?.nodeType === "leaf" ? node.leaf.credential : undefined;
    const decoded = c?.credentialType === "basic" ? decodeCredential(c.identity) : undefined;
    if (!decoded) throw new GroupError("sender_unknown", `no trusted member at leaf ${leafIndex}`);
    return decoded;
  }

  async encrypt(
    plaintext: Uint8Array,
  ): Promise<{ ciphertext: Uint8Array; epoch: number; next: CaucusGroup }> {
    const cs = await cipherSuite();
    const r = await createApplicationMessage(this.state, pad(plaintext), cs);
    const ciphertext = encodeMlsMessage({
      version: "mls10",
      wireformat: "mls_private_message",
      privateMessage: r.privateMessage,
    });
    return { ciphertext, epoch: this.epoch, next: new CaucusGroup(r.newState, this.trust) };
  }

  /** A commit adding and/or removing devices; only mediator devices make these. */
  async commit(change: { add?: KeyPackage[]; removeDeviceIds?: string[] }): Promise<PendingCommit> {
    const cs = await cipherSuite();
    const removeLeaves = (change.removeDeviceIds ?? []).map((id) => {
      const m = this.roster().find((r) => r.credential?.deviceId === id);
      if (!m) throw new GroupError("member_unknown", `device ${id} is not in this caucus`);
      return m.leafIndex;
    });
    const r = await createCommit(
      { state: this.state, cipherSuite: cs },
      {
        extraProposals: [
          ...(change.add ?? []).map((keyPackage) => ({ proposalType: "add" as const, add: { keyPackage } })),
          ...removeLeaves.map((removed) => ({ proposalType: "remove" as const, remove: { removed } })),
        ],
        ratchetTreeExtension: true,
      },
    );
    return {
      commit: encodeMlsMessage(r.commit),
      welcome: r.welcome
        ? encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r.welcome })
        : undefined,
      epoch: this.epoch,
      next: new CaucusGroup(r.newState, this.trust),
    };
  }

  /** Processes the next message of the caucus (in server order) and returns the next group. */
  async process(bytes: Uint8Array): Promise<{ incoming: Incoming; next: CaucusGroup }> {
    const cs = await cipherSuite();
    const decoded = safeDecode(bytes);
    if (decoded?.wireformat !== "mls_private_message" && decoded?.wireformat !== "mls_public_message")
      throw new GroupError("message_invalid", "not an MLS message");
    let committer: DeviceCredential | undefined;
    let refused: string | undefined;
    // Invariant: only mediator devices change a caucus's membership.
    const onCommit: IncomingMessageCallback = (incoming) => {
      if (incoming.kind !== "commit" || incoming.senderLeafIndex === undefined) {
        refused = "proposals and external commits are not accepted";
        return "reject";
      }
      try {
        committer = this.leafCredential(incoming.senderLeafIndex);
      } catch {
        refused = "commit from an unknown member";
        return "reject";
      }
      if (committer.role !== "mediator") {
        refused = "commit from a party device";
        return "reject";
      }
      return "accept";
    };
    let result;
    try {
      result = await processMessage(decoded, this.state, emptyPskIndex, onCommit, cs);
    } catch (cause) {
      throw new GroupError("message_rejected", `MLS rejected the message: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (refused) throw new GroupError("message_rejected", refused);
    if (result.kind === "applicationMessage") {
      if (decoded.wireformat !== "mls_private_message")
        throw new GroupError("message_rejected", "application data must be encrypted");
      // processMessage verified the sender's signature; recover which leaf it was.
      const senderData = await decryptSenderData(
        decoded.privateMessage,
        this.state.keySchedule.senderDataSecret,
        cs,
      );
      if (!senderData) throw new GroupError("message_rejected", "sender unreadable");
      const sender = this.leafCredential(senderData.leafIndex);
      return {
        incoming: { kind: "application", plaintext: unpad(result.message), sender },
        next: new CaucusGroup(result.newState, this.trust),
      };
    }
    if (result.actionTaken === "reject" || !committer)
      throw new GroupError("message_rejected", refused ?? "commit rejected");
    const next = new CaucusGroup(result.newState, this.trust);
    const removedSelf = result.newState.groupActiveState.kind !== "active";
    if (!removedSelf) next.assertRosterTrusted();
    return { incoming: { kind: "commit", committer, removedSelf }, next };
  }
}
