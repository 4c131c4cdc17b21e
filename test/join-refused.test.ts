import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtempSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStateStore, Party } from "../src/sdk/index.js";
import { FileStateStore, nodePlatform } from "../src/sdk/node.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";

/** A redeem the relay refuses for good leaves no half-made device behind, so the user can retry. */
let net: TestNetwork;
let dir: string;
beforeAll(async () => {
  net = await startNetwork({ parties: ["A", "B"] });
  dir = mkdtempSync(join(tmpdir(), "backchannel-join-"));
});
afterAll(async () => {
  await net?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a used invite code is refused and the device store is left empty", async () => {
  const { code } = await net.mediator.invite(net.caucus.A!);
  await Party.join({ inviteCode: code, store: new MemoryStateStore(), platform: nodePlatform });
  const store = new FileStateStore(join(dir, "device.json"), "a passphrase for tests");
  await expect(Party.join({ inviteCode: code, store, platform: nodePlatform })).rejects.toMatchObject({
    code: "invite_used",
  });
  expect(existsSync(store.path)).toBe(false);
  const memory = new MemoryStateStore();
  await expect(Party.join({ inviteCode: code, store: memory, platform: nodePlatform })).rejects.toMatchObject(
    { code: "invite_used" },
  );
  await expect(memory.load()).rejects.toThrow();
  // The same store can then join with a fresh code.
  const fresh = await net.mediator.invite(net.caucus.A!);
  const p = await Party.join({ inviteCode: fresh.code, store, platform: nodePlatform });
  expect(existsSync(store.path)).toBe(true);
  await admitAfterComparing(net.mediator, p);
  expect(await p.waitUntilJoined(10_000)).toBe(true);
});
