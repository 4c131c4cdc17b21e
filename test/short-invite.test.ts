import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { decodeInviteCode, MemoryStateStore, Party } from "../src/sdk/index.js";
import { nodePlatform } from "../src/sdk/node.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";

/** Issue 11: the short form of an invite code, through a real relay. */
let net: TestNetwork;
beforeAll(async () => {
  net = await startNetwork({ parties: ["A", "B"] });
});
afterAll(() => net?.close());

/** Every string the relay's database holds, table by table. */
function relayDump(): string {
  const db = new Database(join(net.dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
  try {
    const names = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((t) => t.name);
    return JSON.stringify(names.map((n) => [n, db.prepare(`SELECT * FROM "${n}"`).all()]));
  } finally {
    db.close();
  }
}

const shortRows = (): number => {
  const db = new Database(join(net.dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM short_invites").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

const join_ = (inviteCode: string, serverUrl?: string) =>
  Party.join({
    inviteCode,
    store: new MemoryStateStore(),
    platform: nodePlatform,
    ...(serverUrl !== undefined ? { serverUrl } : {}),
  });

test("a handler joins with the short code, typed loosely; it works once", async () => {
  // The network's own handlers joined with long codes: their short invites are still kept.
  const kept = shortRows();
  const invite = await net.mediator.invite(net.caucus.A!);
  expect(invite.shortCode).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
  // The relay holds a sealed box: neither code nor the invite's secret is in its database.
  const dump = relayDump();
  const secret = decodeInviteCode(invite.code).inviteSecret;
  for (const plain of [invite.code, secret, invite.shortCode, invite.shortCode.replace(/-/g, "")])
    expect(dump).not.toContain(plain);
  expect(shortRows()).toBe(kept + 1);

  // Read over a phone: lower case, spaces for dashes, O for 0 and L for 1 still work.
  const typed = invite.shortCode.toLowerCase().replace(/-/g, " ").replace(/0/g, "o").replace(/1/g, "l");
  const handler = await join_(typed, net.server.url);
  expect(shortRows()).toBe(kept);
  await admitAfterComparing(net.mediator, handler);
  expect(await handler.waitUntilJoined(10_000)).toBe(true);
  expect(handler.caucusId).toBe(net.caucus.A);

  // Taken: the same code now gets the one answer for unknown codes.
  await expect(join_(invite.shortCode, net.server.url)).rejects.toMatchObject({ code: "invite_invalid" });
});

test("a wrong short code gets invite_invalid and changes nothing; the right one still works", async () => {
  const invite = await net.mediator.invite(net.caucus.A!);
  const kept = shortRows();
  const last = invite.shortCode.at(-1)!;
  const wrong = invite.shortCode.slice(0, -1) + (last === "X" ? "Y" : "X");
  await expect(join_(wrong, net.server.url)).rejects.toMatchObject({ code: "invite_invalid" });
  await expect(join_(invite.shortCode)).rejects.toMatchObject({ code: "short_code_server_required" });
  await expect(join_("7KQ3M-XHD9T-FAWR2-P8N4", net.server.url)).rejects.toMatchObject({
    code: "invite_code_invalid",
  });
  expect(shortRows()).toBe(kept);
  const handler = await join_(invite.shortCode, net.server.url);
  expect(shortRows()).toBe(kept - 1);
  expect(handler.caucusId).toBe(net.caucus.A);
});

test("a box the relay altered does not open: invite_code_invalid, and no device is made", async () => {
  const invite = await net.mediator.invite(net.caucus.A!);
  const db = new Database(join(net.dataDir, sqliteFileName), { fileMustExist: true });
  try {
    // The newest row is this invite's (rowid order); flip one byte of its box.
    const { lookup_id, box } = db
      .prepare("SELECT lookup_id, box FROM short_invites ORDER BY rowid DESC LIMIT 1")
      .get() as { lookup_id: string; box: string };
    const flipped = box.slice(0, 20) + (box[20] === "A" ? "B" : "A") + box.slice(21);
    db.prepare("UPDATE short_invites SET box = ? WHERE lookup_id = ?").run(flipped, lookup_id);
  } finally {
    db.close();
  }
  const store = new MemoryStateStore();
  await expect(
    Party.join({ inviteCode: invite.shortCode, store, platform: nodePlatform, serverUrl: net.server.url }),
  ).rejects.toMatchObject({ code: "invite_code_invalid" });
  await expect(store.load()).rejects.toThrow();
  // The long code, given out of band, still redeems the invite.
  const handler = await join_(invite.code);
  expect(handler.caucusId).toBe(net.caucus.A);
});
