import { describe, expect, it } from "vitest";
import { randomB64, rejectionCode } from "../test-helpers.js";
import type { ShortInviteRecord, Storage } from "./storage.js";
import { backends, type Backend } from "./test-backends.js";

const NOW = 1_000_000;

const shortInvite = (fields: Partial<ShortInviteRecord> = {}): ShortInviteRecord => ({
  lookupId: randomB64(32),
  box: randomB64(600),
  expiresAt: NOW + 60_000,
  ...fields,
});

describe.each(backends)("short invites: $name", (backend) => {
  let s: Storage;
  let db: Awaited<ReturnType<Backend["create"]>>;

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

  it(
    "gives the box to one take only; an unknown id gets the same nothing",
    fresh(async () => {
      const a = shortInvite();
      await s.putShortInvite(a);
      expect(await s.takeShortInvite(randomB64(32), NOW)).toBeUndefined();
      expect(await s.takeShortInvite(a.lookupId, NOW)).toBe(a.box);
      expect(await s.takeShortInvite(a.lookupId, NOW)).toBeUndefined();
      // A lookup id is kept once.
      const b = shortInvite();
      await s.putShortInvite(b);
      expect(await rejectionCode(s.putShortInvite({ ...shortInvite(), lookupId: b.lookupId }))).toBe(
        "invalid_request",
      );
      expect(await s.takeShortInvite(b.lookupId, NOW)).toBe(b.box);
    }),
  );

  it(
    "concurrent takes: exactly one gets the box",
    fresh(async () => {
      const a = shortInvite();
      await s.putShortInvite(a);
      const second = await db.open();
      try {
        const takes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? s : second).takeShortInvite(a.lookupId, NOW)),
        );
        expect(takes.filter((t) => t === a.box)).toHaveLength(1);
        expect(takes.filter((t) => t === undefined)).toHaveLength(7);
      } finally {
        await second.close();
      }
    }),
  );

  it(
    "an expired one is refused and gone; pruneExpired sweeps the rest",
    fresh(async () => {
      const due = shortInvite({ expiresAt: NOW });
      const later = shortInvite({ expiresAt: NOW + 1 });
      const swept = shortInvite({ expiresAt: NOW - 5 });
      for (const x of [due, later, swept]) await s.putShortInvite(x);
      expect(await s.takeShortInvite(due.lookupId, NOW)).toBeUndefined();
      // The refused take deleted it: not there even for a clock that runs behind.
      expect(await s.takeShortInvite(due.lookupId, NOW - 10)).toBeUndefined();
      await s.pruneExpired(NOW);
      expect(await s.takeShortInvite(swept.lookupId, 0)).toBeUndefined();
      expect(await s.takeShortInvite(later.lookupId, NOW)).toBe(later.box);
    }),
  );
});
