import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from "node:crypto";
import { limits, loginSigningString, redeemSigningString, sha256HexOf } from "../src/protocol/index.js";
import { HttpClient } from "../src/sdk/http-client.js";

/**
 * Everything the socket bench needs, made through the relay's public API as devices would make
 * it: a mediator, one caucus, `members` party devices that redeemed invites and were added by
 * commits with welcomes, and a bearer token per device from challenge-response login.
 *
 * What is not real is only what the relay cannot look at: key packages, welcomes and ciphertexts
 * are random bytes of plausible size, not MLS. The relay stores and forwards them unread
 * (invariant: it holds no keys), so building a real 1,000-member MLS group, minutes of client
 * CPU, would change nothing the relay does or holds.
 */
export interface Membership {
  mediator: HttpClient;
  caucusId: string;
  /** The caucus's MLS epoch after the commits: application messages must carry it. */
  epoch: number;
  /** One bearer token per member device. */
  tokens: string[];
}

interface Keys {
  publicKey: string;
  privateKey: KeyObject;
}

function newKeys(): Keys {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return { publicKey: publicKey.export({ format: "jwk" }).x!, privateKey };
}

const signText = (key: KeyObject, text: string): string =>
  sign(null, Buffer.from(text, "utf8"), key).toString("base64url");

/** Random bytes, base64url: stands in for an MLS structure of that size. */
export const opaque = (bytes: number): string => randomBytes(bytes).toString("base64url");

async function login(url: string, deviceId: string, key: KeyObject): Promise<string> {
  const anon = new HttpClient(url);
  const { nonce } = await anon.call("createChallenge", { body: { deviceId } });
  const { token } = await anon.call("createSession", {
    body: { deviceId, nonce, signature: signText(key, loginSigningString(deviceId, nonce)) },
  });
  return token;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T, R>(
  width: number,
  items: readonly T[],
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

export async function setUpMembership(url: string, members: number): Promise<Membership> {
  const mediatorKeys = newKeys();
  const mediatorId = randomUUID();
  await new HttpClient(url).call("registerMediator", {
    body: { deviceId: mediatorId, authPublicKey: mediatorKeys.publicKey },
  });
  const mediatorToken = await login(url, mediatorId, mediatorKeys.privateKey);
  const mediator = new HttpClient(url, () => Promise.resolve(mediatorToken));
  const { channelId } = await mediator.call("createChannel", { body: {} });
  const { caucusId } = await mediator.call("createCaucus", { params: { channelId }, body: {} });

  // A few requests in flight keep both cores busy without queueing behind each other's fsync.
  const width = 8;
  const devices = Array.from({ length: members }, () => ({ deviceId: randomUUID(), keys: newKeys() }));
  const expiresAt = new Date(Date.now() + 60 * 60_000).toISOString();
  await inParallel(width, devices, async ({ deviceId, keys }) => {
    const invite = { inviteId: randomUUID(), keys: newKeys() };
    await mediator.call("createInvite", {
      params: { caucusId },
      body: { inviteId: invite.inviteId, invitePublicKey: invite.keys.publicKey, expiresAt },
    });
    const keyPackage = randomBytes(400);
    const signed = redeemSigningString(invite.inviteId, deviceId, keys.publicKey, sha256HexOf(keyPackage));
    await new HttpClient(url).call("redeemInvite", {
      params: { inviteId: invite.inviteId },
      body: {
        deviceId,
        authPublicKey: keys.publicKey,
        keyPackage: keyPackage.toString("base64url"),
        signature: signText(invite.keys.privateKey, signed),
      },
    });
  });

  // Commits add at most welcomesPerCommit devices each, one epoch per commit, as the mediator's
  // device would admit a crowd.
  let epoch = 0;
  for (let from = 0; from < devices.length; from += limits.welcomesPerCommit, epoch++) {
    const batch = devices.slice(from, from + limits.welcomesPerCommit);
    await mediator.call("appendEvent", {
      params: { caucusId },
      body: {
        eventId: randomUUID(),
        kind: "commit",
        epoch,
        ciphertext: opaque(2_000),
        welcomes: batch.map((d) => ({ deviceId: d.deviceId, welcome: opaque(1_500) })),
      },
    });
  }

  const tokens = await inParallel(width, devices, (d) => login(url, d.deviceId, d.keys.privateKey));
  return { mediator, caucusId, epoch, tokens };
}
