/**
 * Invariant 1 (isolation), tried the way an attacker who holds one party's handler device would:
 * log in with its key, call every route a device can call with raw HTTP, listen on its push
 * socket, and look for anything about the other parties in what comes back. Then the ways in:
 * a stolen (used) invite, a forged invite signature, an existing device redeeming a second
 * party's invite, and a key package certified for one caucus slipped into another's pending list.
 *
 * Real relay on a real port, real sdk clients; nothing of ours is mocked.
 */
import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import { CaucusGroup, newDeviceKeys } from "../src/crypto/mls/caucus-group.js";
import { certifyPartyDevice } from "../src/crypto/mls/credential.js";
import { generateIdentityKey, sign } from "../src/crypto/identity.js";
import {
  fromBase64Url,
  redeemSigningString,
  sha256HexOf,
  toBase64Url,
  toHex,
  utf8,
} from "../src/protocol/index.js";
import {
  ApiError,
  MemoryStateStore,
  Party,
  decodeInviteCode,
  readDeviceState,
  type InviteCode,
} from "../src/sdk/index.js";
import { deviceState } from "../src/sdk/device-state.js";
import { commitChange, coreOf, groupOf } from "./helpers/internals.js";
import { nodePlatform } from "../src/sdk/node.js";
import { Session } from "../src/sdk/session.js";
import { sqliteFileName } from "../src/server/storage/sqlite/sqlite-storage.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";

// Distinctive names, so a leaked party name could be found in bytes (a one-letter name could not).
const NORTH = "Northland";
const SOUTH = "Southland";
const EAST = "Eastland";

/** A handler device and what only its own side (and the mediator) should ever know about it. */
interface Handler {
  party: string;
  device: Party;
  code: string;
  inviteId: string;
  keyPackage: string;
}

/** Everything about one party that no other party's device may ever receive. */
interface PartySecrets {
  caucusId: string;
  deviceIds: string[];
  identityKeys: string[];
  keyPackages: string[];
  mlsKeys: string[];
  inviteIds: string[];
}

interface Received {
  label: string;
  status: number;
  text: string;
  /** Differs from call to call by design (nonces, fresh ids): left out of before/after comparisons. */
  volatile?: boolean;
}

let net: TestNetwork;
/** Every handler ever admitted per party; removed ones stay listed, their ids are still secrets. */
const handlers: Record<string, Handler[]> = { [NORTH]: [], [SOUTH]: [], [EAST]: [] };
const removed = new Set<Handler>();
const active = (party: string) => handlers[party]!.filter((h) => !removed.has(h));

const inADay = () => new Date(Date.now() + 24 * 60 * 60_000).toISOString();

/** Invites and admits a handler, keeping its invite code and key package (read before admission). */
async function admitHandler(party: string): Promise<Handler> {
  const { code, inviteId } = await net.mediator.invite(net.caucus[party]!);
  const store = new MemoryStateStore();
  const device = await Party.join({ inviteCode: code, store, platform: nodePlatform });
  const keyPackage = deviceState.parse(await readDeviceState(store)).joinKeys!.keyPackage;
  await admitAfterComparing(net.mediator, device);
  if (!(await device.waitUntilJoined(10_000))) throw new Error(`${party}'s handler was not admitted`);
  const h = { party, device, code, inviteId, keyPackage };
  handlers[party]!.push(h);
  return h;
}

function secretsOf(party: string): PartySecrets {
  const caucusId = net.caucus[party]!;
  const roster = CaucusGroup.restore(
    { mediatorKey: net.mediator.mediatorKey, caucusId },
    fromBase64Url(groupOf(net.mediator, caucusId)!),
  ).roster();
  const hs = handlers[party]!;
  return {
    caucusId,
    deviceIds: hs.map((h) => h.device.deviceId),
    identityKeys: hs.map((h) => h.device.identityPublicKey),
    keyPackages: hs.map((h) => h.keyPackage),
    // The handlers' MLS leaf keys (the mediator's leaves are the mediator's, not this party's).
    mlsKeys: roster.filter((m) => m.credential?.role === "party").map((m) => toBase64Url(m.mlsKey)),
    inviteIds: hs.map((h) => h.inviteId),
  };
}

/** The spellings an id or key could leak in: as is, upper case, without dashes, standard base64, hex. */
function spellings(value: string): string[] {
  if (/^[0-9a-f-]{36}$/.test(value)) return [value, value.toUpperCase(), value.replace(/-/g, "")];
  const bytes = fromBase64Url(value);
  return [value, Buffer.from(bytes).toString("base64").replace(/=+$/, ""), toHex(bytes)];
}

function expectNoLeak(received: readonly Received[], about: string, secrets: PartySecrets): void {
  const needles: [string, string[]][] = [
    [`${about}'s caucus id`, spellings(secrets.caucusId)],
    ...secrets.deviceIds.map((v): [string, string[]] => [`${about}'s handler device id`, spellings(v)]),
    ...secrets.identityKeys.map((v): [string, string[]] => [`${about}'s handler identity key`, spellings(v)]),
    ...secrets.keyPackages.map((v): [string, string[]] => [`${about}'s key package`, spellings(v)]),
    ...secrets.mlsKeys.map((v): [string, string[]] => [`${about}'s MLS leaf key`, spellings(v)]),
    ...secrets.inviteIds.map((v): [string, string[]] => [`${about}'s invite id`, spellings(v)]),
    ["the channel id", spellings(net.channel.channelId)],
    [`${about}'s name`, [about]],
  ];
  // Sanity: the collection is not empty, or "nothing leaked" would hold vacuously.
  expect(received.length).toBeGreaterThan(10);
  for (const r of received)
    for (const [what, forms] of needles)
      for (const s of forms)
        if (r.text.includes(s))
          expect.fail(`${r.label} (${r.status}) reveals ${what}: ${r.text.slice(0, 300)}`);
}

async function raw(
  token: string | undefined,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
): Promise<Received> {
  const res = await fetch(new URL(path, net.server.url), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined
        ? {}
        : { "content-type": body instanceof Uint8Array ? "application/octet-stream" : "application/json" }),
    },
    body:
      body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
  const headerLines: string[] = [];
  res.headers.forEach((v, k) => headerLines.push(`${k}: ${v}`));
  const headers = headerLines.join("\n");
  return { label: `${method} ${path}`, status: res.status, text: `${headers}\n\n${await res.text()}` };
}

/** A blob id no one uploads: the same in every probe, so two probes' answers compare. */
const absentBlob = randomUUID();

const bodyOf = (r: Received): string => r.text.slice(r.text.indexOf("\n\n") + 2);
const jsonOf = (r: Received): unknown => JSON.parse(bodyOf(r));

/** A push socket, authenticated; `barrier` returns once every frame sent before it has arrived. */
async function openPush(
  token: string,
): Promise<{ frames: string[]; barrier(): Promise<void>; close(): void }> {
  const ws = new WebSocket(`${net.server.url.replace(/^http/, "ws")}/v1/ws`);
  const frames: string[] = [];
  let waiter: ((frame: string) => void) | undefined;
  ws.on("message", (data: WebSocket.RawData) => {
    const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString(
      "utf8",
    );
    frames.push(text);
    waiter?.(text);
  });
  const next = (type: string) =>
    new Promise<void>((resolve) => {
      waiter = (f) => {
        if ((JSON.parse(f) as { type: string }).type === type) resolve();
      };
    });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const ready = next("ready");
  ws.send(JSON.stringify({ type: "auth", token }));
  await ready;
  return {
    frames,
    async barrier() {
      // Frames on one socket arrive in order, and the relay pushes before it answers the request
      // that caused the push: a pong after the activity means every frame it caused is here.
      const pong = next("pong");
      ws.send(JSON.stringify({ type: "ping" }));
      await pong;
    },
    close: () => ws.close(),
  };
}

/**
 * Every route a device can call, as `observer`'s device. Errors about each id in `probeIds` are
 * returned separately, keyed by route, so callers can compare them across ids.
 */
async function probe(
  observer: Handler,
  probeIds: Record<string, string>,
): Promise<{ all: Received[]; errors: Record<string, Record<string, string>> }> {
  const token = await observer.device.session.getToken();
  const own = observer.device.caucusId;
  const all: Received[] = [];
  const get = async (path: string) => {
    const r = await raw(token, "GET", path);
    all.push(r);
    return r;
  };
  const post = async (path: string, body: unknown) => {
    const r = await raw(token, "POST", path, body);
    all.push(r);
    return r;
  };

  // An attachment blob's bytes (the route takes octet-stream, not JSON).
  const putBlob = async (caucusId: string) => {
    const r = await raw(
      token,
      "PUT",
      `/v1/caucuses/${caucusId}/blobs/${absentBlob}?bytes=16`,
      new Uint8Array(16),
    );
    all.push(r);
    return r;
  };

  const volatile = (r: Received) => {
    all.push({ ...r, volatile: true });
    return r;
  };
  all.push(
    await raw(undefined, "GET", "/healthz"),
    await raw(undefined, "GET", "/readyz"),
    await raw(undefined, "GET", "/openapi.json"),
  );
  const { nonce } = jsonOf(
    volatile(await raw(undefined, "POST", "/v1/auth/challenge", { deviceId: observer.device.deviceId })),
  ) as { nonce: string };
  volatile(
    await raw(undefined, "POST", "/v1/auth/session", {
      deviceId: observer.device.deviceId,
      nonce,
      signature: "A".repeat(86),
    }),
  );
  // The removal proofs a device reads are its own, behind its login key: a forged signature gets
  // the answer an unknown device does.
  const { nonce: removalsNonce } = jsonOf(
    volatile(await raw(undefined, "POST", "/v1/auth/challenge", { deviceId: observer.device.deviceId })),
  ) as { nonce: string };
  volatile(
    await raw(undefined, "POST", "/v1/auth/removals", {
      deviceId: observer.device.deviceId,
      nonce: removalsNonce,
      signature: "A".repeat(86),
    }),
  );
  volatile(
    await raw(undefined, "POST", "/v1/mediators", {
      deviceId: randomUUID(),
      authPublicKey: nodePlatform.generateAuthKey().publicKey,
    }),
  );
  volatile(
    await raw(undefined, "POST", `/v1/invites/${randomUUID()}/redeem`, {
      deviceId: randomUUID(),
      authPublicKey: nodePlatform.generateAuthKey().publicKey,
      keyPackage: "AAAA",
      signature: "A".repeat(86),
    }),
  );
  // A short invite: taking an unknown one answers as for a taken one; keeping one is the mediator's.
  volatile(await raw(undefined, "POST", `/v1/short-invites/${"A".repeat(43)}/take`));
  volatile(
    await raw(token, "POST", "/v1/short-invites", {
      lookupId: "B".repeat(43),
      box: "AAAA",
      expiresAt: inADay(),
    }),
  );
  volatile(
    await raw(undefined, "POST", `/v1/mediator-links/${randomUUID()}/redeem`, {
      deviceId: randomUUID(),
      authPublicKey: nodePlatform.generateAuthKey().publicKey,
      signature: "A".repeat(86),
    }),
  );
  const push = await openPush(token);
  await push.barrier();
  push.close();
  all.push(...push.frames.map((text) => ({ label: "GET /v1/ws", status: 101, text })));
  await get("/v1/me");
  await get("/v1/channels");
  await post("/v1/channels", {});
  await get(`/v1/caucuses/${own}/events`);
  await get(`/v1/caucuses/${own}/events?after=0&limit=1`);
  await get(`/v1/caucuses/${own}/welcome`);
  await get(`/v1/caucuses/${own}/pending`);
  await post(`/v1/caucuses/${own}/invites`, {
    inviteId: randomUUID(),
    invitePublicKey: observer.device.identityPublicKey,
    expiresAt: inADay(),
  });
  await get(`/v1/caucuses/${own}`);
  // Attachment blobs: an upload into its own caucus, and a download of one that does not exist.
  // (volatile: each upload stores a blob, so the caucus's own byte count moves with every probe)
  volatile(await raw(token, "PUT", `/v1/caucuses/${own}/blobs/${randomUUID()}?bytes=16`, new Uint8Array(16)));
  await get(`/v1/caucuses/${own}/blobs/${absentBlob}`);
  // The mediator's own devices (staff): mediator routes, refused before any lookup.
  await post("/v1/mediator-links", {
    linkId: randomUUID(),
    linkPublicKey: observer.device.identityPublicKey,
  });
  all.push(await raw(token, "PUT", `/v1/caucuses/${own}/key-package`, { keyPackage: "AAAA" }));
  all.push(await raw(token, "DELETE", `/v1/mediator-devices/${net.mediator.deviceId}`));

  const errors: Record<string, Record<string, string>> = {};
  const record = (route: string, id: string, r: Received) => {
    expect(r.status, `${r.label} must be refused`).toBeGreaterThanOrEqual(400);
    (errors[route] ??= {})[id] = `${r.status}\n${bodyOf(r)}`;
  };
  for (const [name, id] of Object.entries(probeIds)) {
    record("GET events", name, await get(`/v1/caucuses/${id}/events`));
    record("GET events after", name, await get(`/v1/caucuses/${id}/events?after=1&limit=5`));
    record("GET welcome", name, await get(`/v1/caucuses/${id}/welcome`));
    record("GET pending", name, await get(`/v1/caucuses/${id}/pending`));
    record("GET blob", name, await get(`/v1/caucuses/${id}/blobs/${absentBlob}`));
    record("PUT blob", name, await putBlob(id));
    record(
      "POST events",
      name,
      await post(`/v1/caucuses/${id}/events`, {
        eventId: randomUUID(),
        kind: "application",
        epoch: 1,
        ciphertext: "AAAA",
      }),
    );
    record(
      "POST invites",
      name,
      await post(`/v1/caucuses/${id}/invites`, {
        inviteId: randomUUID(),
        invitePublicKey: observer.device.identityPublicKey,
        expiresAt: inADay(),
      }),
    );
    record("POST channel caucuses", name, await post(`/v1/channels/${id}/caucuses`, {}));
    record("POST channel close", name, await post(`/v1/channels/${id}/close`, {}));
    const retention = await raw(token, "PUT", `/v1/channels/${id}/retention`, { retentionDays: 1 });
    all.push(retention);
    record("PUT channel retention", name, retention);
    const put = await raw(token, "PUT", `/v1/caucuses/${id}/key-package`, { keyPackage: "AAAA" });
    all.push(put);
    record("PUT key-package", name, put);
    const remove = await raw(token, "DELETE", `/v1/mediator-devices/${id}`);
    all.push(remove);
    record("DELETE mediator device", name, remove);
    const revoke = await raw(token, "DELETE", `/v1/invites/${id}`);
    all.push(revoke);
    record("DELETE invite", name, revoke);
  }
  // Last: logging out, with a token of its own (sockets opened with the one above stay open).
  observer.device.session.invalidate();
  all.push(await raw(await observer.device.session.getToken(), "POST", "/v1/auth/logout", {}));
  observer.device.session.invalidate();
  return { all, errors };
}

beforeAll(async () => {
  net = await startNetwork({ parties: [NORTH, SOUTH, EAST], handlersPerParty: 0 });
  await admitHandler(NORTH);
  await admitHandler(NORTH);
  await admitHandler(SOUTH);
  await admitHandler(EAST);
  // Some traffic in every caucus, one conveyance across, so there is something to leak.
  const signal = await handlers[NORTH]![0]!.device.send({
    text: "not interested in escalating at this stage",
  });
  await handlers[SOUTH]![0]!.device.send({ text: "we hear you", disclosure: "mediator_only" });
  await net.mediator.sync();
  await net.mediator.convey({
    from: net.caucus[NORTH]!,
    eventId: signal.eventId,
    mode: "substance",
    text: "one side does not intend to escalate",
    attribution: "anonymous",
  });
  for (const list of Object.values(handlers)) for (const h of list) await h.device.sync();
});
afterAll(async () => net?.close());

// Each row: the attacker's side, and the side it must learn nothing about.
describe.each([
  { observer: SOUTH, target: NORTH },
  { observer: NORTH, target: SOUTH },
  { observer: EAST, target: NORTH },
])("isolation: $observer's device learns nothing about $target", ({ observer, target }) => {
  test("no response, error or push names the other side's caucus, handlers, keys, key packages or channel", async () => {
    const me = handlers[observer]![0]!;
    const foreign = net.caucus[target]!;
    const { all, errors } = await probe(me, {
      target: foreign,
      nonexistent: randomUUID(),
      channel: net.channel.channelId,
    });

    // Errors about the other side's caucus are byte-identical to errors about an id that does not
    // exist: no route is an oracle for which caucuses exist.
    for (const [route, byId] of Object.entries(errors)) {
      expect(byId.target, route).toBe(byId.nonexistent);
      expect(byId.channel, route).toBe(byId.nonexistent);
    }

    // Every route the relay documents was called (a new route fails here until it is probed too).
    const uuids = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
    const called = new Set(
      all.map((r) =>
        r.label
          .replace(/\?.*$/, "")
          .replace(uuids, "{}")
          .replace(/short-invites\/[A-Za-z0-9_-]{43}/, "short-invites/{}"),
      ),
    );
    const openapi = jsonOf(all.find((r) => r.label === "GET /openapi.json")!) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(openapi.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{[^}]+\}/g, "{}")}`),
    );
    expect(documented.length).toBeGreaterThan(10);
    for (const route of documented) expect(called, route).toContain(route);

    // Logging in reveals nothing either: a foreign handler's device id is treated like any unknown id.
    const foreignDevice = handlers[target]![0]!.device.deviceId;
    const challenges = [];
    for (const id of [foreignDevice, randomUUID()]) {
      const c = await raw(undefined, "POST", "/v1/auth/challenge", { deviceId: id });
      const { nonce } = jsonOf(c) as { nonce: string };
      const s = await raw(undefined, "POST", "/v1/auth/session", {
        deviceId: id,
        nonce,
        signature: "A".repeat(86),
      });
      challenges.push({
        status: c.status,
        keys: Object.keys(jsonOf(c) as object),
        session: `${s.status}\n${bodyOf(s)}`,
      });
      all.push(c, s);
    }
    expect(challenges[0]).toEqual(challenges[1]);

    // What /v1/me says: this device's own caucus, and no channel (it would link the caucuses).
    const meBody = jsonOf(all.find((r) => r.label === "GET /v1/me")!) as { memberships: object[] };
    expect(meBody.memberships).toEqual([
      { caucusId: me.device.caucusId, fromSeq: expect.any(Number), joined: true },
    ]);

    // No timing field: apart from login's own expiry, no response carries a time.
    for (const r of all.filter((x) => !x.label.includes("/v1/auth/") && !x.label.includes("/openapi.json"))) {
      expect(bodyOf(r), r.label).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
      expect(bodyOf(r), r.label).not.toMatch(/"[a-zA-Z]*(At|Time|time|Date|date)"\s*:/);
    }

    expectNoLeak(all, target, secretsOf(target));
  });

  test("the events it reads in its own caucus come only from its own side's handlers and the mediator", async () => {
    const me = handlers[observer]![0]!;
    const token = await me.device.session.getToken();
    const r = await raw(token, "GET", `/v1/caucuses/${me.device.caucusId}/events`);
    const { events } = jsonOf(r) as { events: { senderDeviceId: string }[] };
    expect(events.length).toBeGreaterThan(0);
    const allowed = new Set([net.mediator.deviceId, ...handlers[observer]!.map((h) => h.device.deviceId)]);
    for (const e of events) expect(allowed).toContain(e.senderDeviceId);
    await me.device.sync();
    for (const e of me.device.entries(me.device.caucusId)) expect(allowed).toContain(e.senderDeviceId);
  });

  test("its view does not change while the other side's caucus does (no count, head or push leaks)", async () => {
    const me = handlers[observer]![0]!;
    const pushes = await Promise.all(
      active(observer).map(async (h) => openPush(await h.device.session.getToken())),
    );
    const ids = { target: net.caucus[target]!, nonexistent: "00000000-0000-4000-8000-000000000000" };
    const snapshot = async () => {
      const { all } = await probe(me, ids);
      // Only what does not legitimately vary per request (login nonces do).
      return all.filter((r) => !r.volatile);
    };
    const view = (rs: Received[]) => rs.map((r) => `${r.label}\n${r.status}\n${bodyOf(r)}`);
    const before = await snapshot();

    // The other side's caucus grows: a new handler, signals, a note, a removal.
    const newcomer = await admitHandler(target);
    await newcomer.device.send({ text: "a new handler speaks", signalKind: "reply" });
    await handlers[target]![0]!.device.send({ text: "another signal", disclosure: "verbatim" });
    await net.mediator.note(net.caucus[target]!, "noted");
    await net.mediator.removeDevice(net.caucus[target]!, newcomer.device.deviceId);
    removed.add(newcomer);
    await net.mediator.sync();

    const after = await snapshot();
    expect(view(after)).toEqual(view(before));
    for (const p of pushes) await p.barrier();
    for (const p of pushes) {
      expect(p.frames.map((f) => (JSON.parse(f) as { type: string }).type)).toEqual(["ready", "pong"]);
    }

    // Control: the same sockets do hear about their own caucus, so silence above meant something.
    await net.mediator.note(me.device.caucusId, "for your side");
    for (const p of pushes) await p.barrier();
    for (const p of pushes) {
      const frames = p.frames.map((f) => JSON.parse(f) as { type: string; caucusId?: string });
      expect(frames.filter((f) => f.type === "event")).toEqual([
        expect.objectContaining({ type: "event", caucusId: me.device.caucusId }),
      ]);
      p.close();
    }
    const received = [
      ...before,
      ...after,
      ...pushes.flatMap((p) => p.frames.map((text) => ({ label: "push frame", status: 0, text }))),
    ];
    // The newcomer (removed since) is among the secrets: `handlers` keeps every handler ever admitted.
    expect(secretsOf(target).deviceIds).toContain(newcomer.device.deviceId);
    expectNoLeak(received, target, secretsOf(target));
  });
});

describe("isolation: a self-registered mediator device", () => {
  test("sees no channel, caucus or pending device it does not mediate; errors match a nonexistent id", async () => {
    const deviceId = randomUUID();
    const authKey = nodePlatform.generateAuthKey();
    const reg = await raw(undefined, "POST", "/v1/mediators", { deviceId, authPublicKey: authKey.publicKey });
    expect(reg.status).toBe(201);
    const token = await new Session(net.server.url, deviceId, authKey, nodePlatform).getToken();
    const all: Received[] = [reg];
    const call = async (method: "GET" | "POST", path: string, body?: unknown) => {
      const r = await raw(token, method, path, body);
      all.push(r);
      return r;
    };
    expect(jsonOf(await call("GET", "/v1/channels"))).toEqual({ channels: [] });
    expect(jsonOf(await call("GET", "/v1/me"))).toEqual({ deviceId, role: "mediator", memberships: [] });
    const as = async (id: string) => {
      const out = [];
      for (const [method, path, body] of [
        ["GET", `/v1/caucuses/${id}/events`, undefined],
        ["GET", `/v1/caucuses/${id}/welcome`, undefined],
        ["GET", `/v1/caucuses/${id}/pending`, undefined],
        [
          "POST",
          `/v1/caucuses/${id}/events`,
          { eventId: randomUUID(), kind: "commit", epoch: 0, ciphertext: "AAAA" },
        ],
        [
          "POST",
          `/v1/caucuses/${id}/invites`,
          { inviteId: randomUUID(), invitePublicKey: authKey.publicKey, expiresAt: inADay() },
        ],
        ["POST", `/v1/channels/${id}/caucuses`, {}],
      ] as const) {
        const r = await call(method, path, body);
        out.push(`${r.status}\n${bodyOf(r)}`);
      }
      return out;
    };
    const nonexistent = await as(randomUUID());
    expect(await as(net.caucus[NORTH]!)).toEqual(nonexistent);
    expect(await as(net.caucus[SOUTH]!)).toEqual(nonexistent);
    expect(await as(net.channel.channelId)).toEqual(nonexistent);
    expect(nonexistent.every((e) => e.startsWith("404\n"))).toBe(true);
    for (const party of [NORTH, SOUTH, EAST]) expectNoLeak(all, party, secretsOf(party));
  });
});

/** What an attacker can build with invite codes it holds: a key package and a signed redemption. */
async function craftRedemption(opts: {
  /** The invite redeemed at the relay (its key signs the redemption). */
  redeem: InviteCode;
  /** The invite whose chain certifies the key package. */
  certifyWith: InviteCode;
  /** The caucus the credential claims. */
  caucusId: string;
  deviceId?: string;
  /** Sign the redemption with a key that is not the invite's. */
  forgeSignature?: boolean;
}) {
  const deviceId = opts.deviceId ?? randomUUID();
  const handler = generateIdentityKey();
  const keys = await newDeviceKeys((mlsKey) =>
    certifyPartyDevice({
      device: deviceId,
      caucus: opts.caucusId,
      handlerSecret: handler.secretKey,
      handlerKey: handler.publicKey,
      invite: {
        inviteId: opts.certifyWith.inviteId,
        inviteKey: opts.certifyWith.inviteKey,
        inviteCert: opts.certifyWith.inviteCert,
        inviteSecret: fromBase64Url(opts.certifyWith.inviteSecret),
      },
      mlsKey,
    }),
  );
  const authKey = nodePlatform.generateAuthKey();
  const signingKey = opts.forgeSignature
    ? generateIdentityKey().secretKey
    : fromBase64Url(opts.redeem.inviteSecret);
  const signed = redeemSigningString(
    opts.redeem.inviteId,
    deviceId,
    authKey.publicKey,
    sha256HexOf(keys.keyPackage),
  );
  const response = await raw(undefined, "POST", `/v1/invites/${opts.redeem.inviteId}/redeem`, {
    deviceId,
    authPublicKey: authKey.publicKey,
    keyPackage: toBase64Url(keys.keyPackage),
    signature: toBase64Url(sign(signingKey, utf8(signed))),
  });
  return { deviceId, authKey, response };
}

const handlerIds = (party: string) =>
  net.mediator
    .handlers(net.caucus[party]!)
    .map((h) => h.deviceId)
    .sort();

/** What the relay lets a device see of itself: its memberships. */
async function membershipsOf(deviceId: string, authKey: { secret: string; publicKey: string }) {
  const token = await new Session(net.server.url, deviceId, authKey, nodePlatform).getToken();
  return (
    jsonOf(await raw(token, "GET", "/v1/me")) as { memberships: { caucusId: string; joined: boolean }[] }
  ).memberships;
}

describe("isolation: getting a device into another party's caucus", () => {
  test("a used invite, stolen, is refused (409 invite_used) and never leads into the caucus", async () => {
    const used = handlers[SOUTH]![0]!.code;
    const before = handlerIds(SOUTH);
    const attempt = Party.join({ inviteCode: used, store: new MemoryStateStore(), platform: nodePlatform });
    await expect(attempt).rejects.toBeInstanceOf(ApiError);
    await expect(attempt).rejects.toMatchObject({ code: "invite_used", status: 409 });

    // The other side's handler tries it with its existing device id and a key package it made with the code.
    const north = handlers[NORTH]![0]!.device;
    const invite = decodeInviteCode(used);
    const r = await craftRedemption({
      redeem: invite,
      certifyWith: invite,
      caucusId: invite.caucusId,
      deviceId: north.deviceId,
    });
    expect(r.response.status).toBe(409);
    expect(jsonOf(r.response)).toMatchObject({ error: "invite_used" });

    await net.mediator.sync();
    expect(handlerIds(SOUTH)).toEqual(before);
    await north.sync();
    expect(north.caucusIds()).toEqual([net.caucus[NORTH]]);
  });

  test("an existing device cannot redeem a second party's invite: device_exists, and the invite stays usable", async () => {
    const north = handlers[NORTH]![0]!.device;
    const { code } = await net.mediator.invite(net.caucus[SOUTH]!);
    const invite = decodeInviteCode(code);
    const before = handlerIds(SOUTH);
    const r = await craftRedemption({
      redeem: invite,
      certifyWith: invite,
      caucusId: invite.caucusId,
      deviceId: north.deviceId,
    });
    expect(r.response.status).toBe(409);
    expect(jsonOf(r.response)).toMatchObject({ error: "device_exists" });
    await net.mediator.sync();
    expect(handlerIds(SOUTH)).toEqual(before);
    const token = await north.session.getToken();
    expect(
      (jsonOf(await raw(token, "GET", "/v1/me")) as { memberships: { caucusId: string }[] }).memberships,
    ).toEqual([expect.objectContaining({ caucusId: net.caucus[NORTH] })]);

    // Nothing was spent: the rightful holder of the code still gets in.
    const rightful = await Party.join({
      inviteCode: code,
      store: new MemoryStateStore(),
      platform: nodePlatform,
    });
    await admitAfterComparing(net.mediator, rightful);
    expect(await rightful.waitUntilJoined(10_000)).toBe(true);
    expect(handlerIds(SOUTH)).toEqual([...before, rightful.deviceId].sort());
  });

  test("a redemption signed by anything but the invite key is refused, and the invite stays usable", async () => {
    const { code } = await net.mediator.invite(net.caucus[SOUTH]!);
    const invite = decodeInviteCode(code);
    const forged = await craftRedemption({
      redeem: invite,
      certifyWith: invite,
      caucusId: invite.caucusId,
      forgeSignature: true,
    });
    expect(forged.response.status).toBe(400);
    expect(jsonOf(forged.response)).toMatchObject({ error: "signature_invalid" });
    // The forged device was never registered: it cannot even log in.
    await expect(membershipsOf(forged.deviceId, forged.authKey)).rejects.toMatchObject({
      code: "signature_invalid",
    });

    const control = await craftRedemption({ redeem: invite, certifyWith: invite, caucusId: invite.caucusId });
    expect(control.response.status).toBe(201);
    await net.mediator.sync();
    await net.mediator.admit(net.caucus[SOUTH]!, control.deviceId);
    // A correctly crafted key package is admitted: the refusals below are about the caucus, not the crafting.
    expect(handlerIds(SOUTH)).toContain(control.deviceId);
    expect(await membershipsOf(control.deviceId, control.authKey)).toEqual([
      expect.objectContaining({ caucusId: net.caucus[SOUTH], joined: true }),
    ]);
  });

  test("a key package whose credential is certified for another caucus is never admitted", async () => {
    const northInvite = decodeInviteCode((await net.mediator.invite(net.caucus[NORTH]!)).code);
    const before = handlerIds(SOUTH);
    // 1. Fully certified for North (through North's invite), redeemed with a South invite.
    const southInvite1 = decodeInviteCode((await net.mediator.invite(net.caucus[SOUTH]!)).code);
    const viaNorth = await craftRedemption({
      redeem: southInvite1,
      certifyWith: northInvite,
      caucusId: net.caucus[NORTH]!,
    });
    // 2. Certified through South's own invite, but the credential names North's caucus.
    const southInvite2 = decodeInviteCode((await net.mediator.invite(net.caucus[SOUTH]!)).code);
    const namesNorth = await craftRedemption({
      redeem: southInvite2,
      certifyWith: southInvite2,
      caucusId: net.caucus[NORTH]!,
    });
    // The relay cannot read key packages: both land in South's pending list.
    expect(viaNorth.response.status).toBe(201);
    expect(namesNorth.response.status).toBe(201);
    const mediatorToken = await net.mediator.session.getToken();
    const pending = jsonOf(await raw(mediatorToken, "GET", `/v1/caucuses/${net.caucus[SOUTH]}/pending`)) as {
      pending: { deviceId: string }[];
    };
    expect(pending.pending.map((p) => p.deviceId).sort()).toEqual(
      [viaNorth.deviceId, namesNorth.deviceId].sort(),
    );

    await net.mediator.sync();
    await net.mediator.sync();
    expect(handlerIds(SOUTH)).toEqual(before);
    for (const d of [viaNorth, namesNorth]) {
      // Not even offered for confirmation: the mediator cannot admit it by mistake.
      expect(net.mediator.pendingAdmissions().map((a) => a.deviceId)).not.toContain(d.deviceId);
      await expect(net.mediator.admit(net.caucus[SOUTH]!, d.deviceId)).rejects.toMatchObject({
        code: "admission_unknown",
      });
      expect(await membershipsOf(d.deviceId, d.authKey)).toEqual([
        expect.objectContaining({ caucusId: net.caucus[SOUTH], joined: false }),
      ]);
      const token = await new Session(net.server.url, d.deviceId, d.authKey, nodePlatform).getToken();
      expect((await raw(token, "GET", `/v1/caucuses/${net.caucus[SOUTH]}/welcome`)).status).toBe(404);
    }
    // A second wall: even told to skip its admission check, the mediator's MLS group refuses the
    // key package (the authentication service chains every leaf to this caucus), and nothing is sent.
    const southHead = net.mediator.caucus(net.caucus[SOUTH]!).head;
    const pendingKeyPackage = (
      jsonOf(await raw(mediatorToken, "GET", `/v1/caucuses/${net.caucus[SOUTH]}/pending`)) as {
        pending: { deviceId: string; keyPackage: string }[];
      }
    ).pending.find((p) => p.deviceId === namesNorth.deviceId)!.keyPackage;
    await expect(
      commitChange(coreOf(net.mediator), net.caucus[SOUTH]!, {
        add: [{ deviceId: namesNorth.deviceId, keyPackage: fromBase64Url(pendingKeyPackage) }],
      }),
    ).rejects.toThrow();
    await net.mediator.sync();
    expect(net.mediator.caucus(net.caucus[SOUTH]!).head).toEqual(southHead);

    // South's own handler sees the same roster: no leaf for either device.
    const south = handlers[SOUTH]![0]!.device;
    await south.sync();
    const roster = CaucusGroup.restore(
      { mediatorKey: south.mediatorKey, caucusId: south.caucusId },
      fromBase64Url(groupOf(south, south.caucusId)!),
    ).roster();
    const ids = roster.map((m) => m.credential?.deviceId);
    expect(ids).not.toContain(viaNorth.deviceId);
    expect(ids).not.toContain(namesNorth.deviceId);
  });

  test("no device is a member of two parties' caucuses, on the relay or in any MLS roster", () => {
    const db = new Database(join(net.dataDir, sqliteFileName), { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare(
          "SELECT device_id, COUNT(*) AS n FROM memberships WHERE role = 'party' GROUP BY device_id HAVING n > 1",
        )
        .all();
      expect(rows).toEqual([]);
      const parties = db
        .prepare("SELECT COUNT(DISTINCT device_id) AS n FROM memberships WHERE role = 'party'")
        .get() as {
        n: number;
      };
      expect(parties.n).toBeGreaterThanOrEqual(4);
    } finally {
      db.close();
    }
    const seen = new Map<string, string>();
    for (const party of [NORTH, SOUTH, EAST])
      for (const id of handlerIds(party)) {
        expect(seen.get(id), `${id} is in ${seen.get(id)} and ${party}`).toBeUndefined();
        seen.set(id, party);
      }
  });
});
