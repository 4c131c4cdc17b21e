import { describe, expect, it } from "vitest";
import { hashRegistrationToken, newRegistrationToken } from "../registration/registration-token.js";
import { newDevice, randomB64, rejectionCode } from "../test-helpers.js";
import type { DeviceRecord, RegistrationTokenRecord, Storage } from "./storage.js";
import { backends, type Backend } from "./test-backends.js";

const NOW = 1_000_000;

/** A token record as `admin token create` makes one, and the token its holder presents. */
function token(fields: Partial<RegistrationTokenRecord> = {}) {
  const made = newRegistrationToken();
  const record: RegistrationTokenRecord = {
    tokenId: made.tokenId,
    tokenHash: made.tokenHash,
    uses: 1,
    createdAt: NOW - 1,
    ...fields,
  };
  return { ...made, record };
}

const mediator = (): DeviceRecord => ({
  deviceId: newDevice().deviceId,
  role: "mediator",
  authPublicKey: randomB64(32),
});

describe.each(backends)("registration tokens: $name", (backend) => {
  let s: Storage;
  let db: Awaited<ReturnType<Backend["create"]>>;

  /** Each test on a fresh database of this backend, dropped after it, whatever happened. */
  const fresh = (body: () => Promise<void>) => async () => {
    db = await backend.create();
    try {
      s = await db.open();
      await body();
    } finally {
      await s?.close();
      await db.cleanup();
    }
  };

  const register = (tokenHash: string, device = mediator(), now = NOW) =>
    s.registerWithToken({ tokenHash, device, now });

  it(
    "lists tokens oldest first with what the operator needs, never a hash",
    fresh(async () => {
      const a = token({ uses: 3, expiresAt: NOW + 10, note: "for the Geneva office" });
      const b = token();
      await s.createRegistrationToken(a.record);
      await s.createRegistrationToken(b.record);
      const listed = await s.listRegistrationTokens();
      expect(listed).toEqual([
        {
          tokenId: a.tokenId,
          uses: 3,
          used: 0,
          expiresAt: NOW + 10,
          note: "for the Geneva office",
          createdAt: NOW - 1,
          revoked: false,
        },
        { tokenId: b.tokenId, uses: 1, used: 0, createdAt: NOW - 1, revoked: false },
      ]);
      expect(JSON.stringify(listed)).not.toContain(a.tokenHash);
      // An id is unique: a second token under it is refused.
      await expect(s.createRegistrationToken({ ...token().record, tokenId: a.tokenId })).rejects.toThrow();
    }),
  );

  it(
    "registers a mediator device, its own mediator's only device, and counts the use",
    fresh(async () => {
      const t = token({ uses: 2 });
      await s.createRegistrationToken(t.record);
      const device = mediator();
      await register(hashRegistrationToken(t.token), device);
      expect(await s.getDevice(device.deviceId)).toEqual({ ...device, removed: false });
      expect(await s.listMediatorDevices(device.deviceId)).toEqual([device.deviceId]);
      expect((await s.listRegistrationTokens())[0]).toMatchObject({ used: 1, uses: 2 });
    }),
  );

  it(
    "refuses a used-up, expired, revoked or unknown token with one answer",
    fresh(async () => {
      const once = token();
      const expiring = token({ expiresAt: NOW + 1 });
      const revoked = token({ uses: 5 });
      for (const t of [once, expiring, revoked]) await s.createRegistrationToken(t.record);
      await register(once.tokenHash);
      expect(await s.revokeRegistrationToken(revoked.tokenId)).toBe(true);
      expect(await s.revokeRegistrationToken(revoked.tokenId)).toBe(true); // idempotent
      expect(await s.revokeRegistrationToken("no-such-id")).toBe(false);

      const refusals = await Promise.all(
        [
          register(once.tokenHash), // used up
          register(expiring.tokenHash, mediator(), NOW + 1), // expiresAt <= now
          register(revoked.tokenHash),
          register(hashRegistrationToken("bcr1-never-made")),
        ].map((attempt) =>
          attempt.then(
            () => "registered",
            (e: Error) => e,
          ),
        ),
      );
      for (const r of refusals) {
        expect(r).toBeInstanceOf(Error);
        expect(r).toMatchObject({
          code: "registration_token_invalid",
          message: (refusals[3] as Error).message,
        });
      }
      // Just before its expiry, the expiring token still works.
      await register(expiring.tokenHash, mediator(), NOW);
      const byId = new Map((await s.listRegistrationTokens()).map((t) => [t.tokenId, t]));
      expect(byId.get(once.tokenId)).toMatchObject({ used: 1, revoked: false });
      expect(byId.get(revoked.tokenId)).toMatchObject({ used: 0, revoked: true });
      expect(byId.get(expiring.tokenId)).toMatchObject({ used: 1 });
    }),
  );

  it(
    "spends nothing when the device is refused",
    fresh(async () => {
      const t = token();
      await s.createRegistrationToken(t.record);
      const taken = mediator();
      await s.createDevice(taken);
      expect(await rejectionCode(register(t.tokenHash, taken))).toBe("device_exists");
      expect((await s.listRegistrationTokens())[0]).toMatchObject({ used: 0 });
      await register(t.tokenHash);
      expect((await s.listRegistrationTokens())[0]).toMatchObject({ used: 1 });
    }),
  );

  it(
    "gives a token's last use to exactly one of many racing registrations, on two connections",
    fresh(async () => {
      // Two storages on one database: two relay nodes, as far as the database can tell.
      const other = await db.open();
      try {
        const once = token();
        const twice = token({ uses: 2 });
        await s.createRegistrationToken(once.record);
        await s.createRegistrationToken(twice.record);
        const race = (tokenHash: string) =>
          Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              rejectionCode(
                (i % 2 === 0 ? s : other).registerWithToken({ tokenHash, device: mediator(), now: NOW }),
              ),
            ),
          );
        const [first, second] = await Promise.all([race(once.tokenHash), race(twice.tokenHash)]);
        expect(first.filter((c) => c === "resolved")).toHaveLength(1);
        expect(first.filter((c) => c === "registration_token_invalid")).toHaveLength(7);
        expect(second.filter((c) => c === "resolved")).toHaveLength(2);
        expect(second.filter((c) => c === "registration_token_invalid")).toHaveLength(6);
        expect((await other.listRegistrationTokens()).map((t) => t.used)).toEqual([1, 2]);
      } finally {
        await other.close();
      }
    }),
  );
});
