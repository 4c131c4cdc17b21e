/**
 * Test-only: what the storage suites (storage.test.ts, storage-retention.test.ts,
 * storage-blobs.test.ts) share: a fresh
 * storage per test on the given backend, and the channels, caucuses and parties they start from.
 */
import { afterEach, beforeEach } from "vitest";
import { appendInput as event, newDevice, randomB64 } from "../test-helpers.js";
import type { Storage } from "./storage.js";
import type { Backend } from "./test-backends.js";

/** The clock the invite tests run at, and an expiry after it. */
export const NOW = 1_000_000;
export const LATER = NOW + 86_400_000;

/**
 * Opens a fresh storage on `backend` before each test (handing it to `opened`) and closes and
 * removes it after; returns the fixtures, which use the storage of the test running.
 */
export function useStorage(backend: Backend, opened: (s: Storage) => void) {
  let db: Awaited<ReturnType<Backend["create"]>>;
  let storage: Storage | undefined;
  beforeEach(async () => {
    db = await backend.create();
    storage = await db.open();
    opened(storage);
  });
  // Guarded: when create() failed (PostgreSQL down), its own error is the one to read.
  afterEach(async () => {
    await storage?.close();
    await db?.cleanup();
  });
  const s = (): Storage => storage!;

  /** A channel with one mediator device and one caucus (kept `retentionDays`, if given). */
  async function caucusWithMediator(retentionDays?: number) {
    const mediator = newDevice().deviceId;
    await s().createDevice({ deviceId: mediator, role: "mediator", authPublicKey: randomB64(32) });
    const channelId = crypto.randomUUID();
    const caucusId = crypto.randomUUID();
    await s().createChannel({
      channelId,
      mediatorDeviceIds: [mediator],
      ...(retentionDays ? { retentionDays } : {}),
    });
    await s().createCaucus({ caucusId, channelId });
    return { mediator, channelId, caucusId };
  }

  /** A party device that redeemed an invite into the caucus (pending). */
  async function pendingParty(caucusId: string) {
    const inviteId = crypto.randomUUID();
    const party = crypto.randomUUID();
    await s().createInvite({ inviteId, caucusId, invitePublicKey: randomB64(32), expiresAt: LATER });
    const keyPackage = randomB64(100);
    await s().redeemInvite({ inviteId, deviceId: party, authPublicKey: randomB64(32), keyPackage, now: NOW });
    return { party, inviteId, keyPackage };
  }

  /** Adds a pending party with a commit; returns its id and the caucus epoch after. */
  async function joinedParty(caucusId: string, mediator: string) {
    const { party } = await pendingParty(caucusId);
    const caucus = await s().getCaucus(caucusId);
    const commit = await s().appendEvent(
      event(caucusId, mediator, {
        kind: "commit",
        epoch: caucus!.epoch,
        welcomes: [{ deviceId: party, welcome: randomB64(50) }],
      }),
    );
    return { party, commit };
  }

  /** The same database opened again, as the test's storage from now on (closed after it). */
  async function reopen(): Promise<Storage> {
    storage = await db.open();
    opened(storage);
    return storage;
  }
  /** Another connection to the same database, beside the test's; the test closes it. */
  const openAnother = (): Promise<Storage> => db.open();

  return { caucusWithMediator, pendingParty, joinedParty, reopen, openAnother };
}
