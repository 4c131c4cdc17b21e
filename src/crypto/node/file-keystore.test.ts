import { spawn } from "node:child_process";
import { createCipheriv, randomBytes, scryptSync } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { canonicalJson } from "../../protocol/canonical.js";
import { fromBase64Url, toBase64Url } from "../../protocol/encoding.js";
import { KeystoreError } from "../keystore-error.js";
import { FileKeystore } from "./file-keystore.js";
import { checkNewPassphrase } from "./passphrase-policy.js";

const SECRET = "identity-seed-5b1f0c9e-do-not-leak";
const state = {
  identityKey: { secret: SECRET, publicKey: "pk" },
  channels: { c1: { topic: "no new strikes" } },
};
const parts = (record: Record<string, unknown>) => new Map(Object.entries(record));
const initial = parts({ device: state, "caucus/c1": { group: "g0" } });
const unixPermissions = process.platform !== "win32";
const PW = "correct horse battery";
/**
 * The file keystore's own unit tests run at scrypt N=2^14, passed explicitly: ~40 keystores at
 * production cost would add a minute. The tests of the cost itself, of the upgrade and of every
 * caller (sdk, CLI) use the production default.
 */
const CHEAP = { scrypt: { N: 2 ** 14, r: 8, p: 1 } };
const FLOOR = 2 ** 17;
const module = fileURLToPath(new URL("./file-keystore.ts", import.meta.url));

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bc-keystore-"));
  path = join(dir, "device", "keystore.json");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectKeystoreError(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeystoreError);
  expect((error as KeystoreError).code).toBe(code);
}

const openCheap = () => FileKeystore.open(path, PW, CHEAP);

/** The file's lines, each with its "\n" (the last one without, if the file does not end in one). */
async function lines(): Promise<string[]> {
  return (await readFile(path, "latin1")).split(/(?<=\n)/);
}
async function header(): Promise<{ v: number; kdf: { N: number; salt: string } } & Record<string, unknown>> {
  return JSON.parse((await lines())[0]!) as { v: number; kdf: { N: number; salt: string } };
}

const kdfOf = (N: number) => ({ name: "scrypt", salt: toBase64Url(randomBytes(16)), N, r: 8, p: 1 });
function derive(passphrase: string, kdf: { salt: string; N: number }) {
  const N = kdf.N;
  return scryptSync(passphrase, fromBase64Url(kdf.salt), 48, { N, r: 8, p: 1, maxmem: 2 * 128 * N * 8 });
}
function seal(key: Uint8Array, plaintext: string, aad: string) {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** A v1 keystore file made from the format keystore-v1.ts documents, not by the module itself. */
function writeDocumentedV1(passphrase: string, N: number, value: unknown, aad?: string): string {
  const kdf = kdfOf(N);
  const out = derive(passphrase, kdf);
  const { iv, ciphertext, tag } = seal(
    out.subarray(0, 32),
    JSON.stringify(value),
    aad ?? canonicalJson({ v: 1, cipher: "aes-256-gcm", kdf }),
  );
  return JSON.stringify({
    v: 1,
    kdf,
    cipher: "aes-256-gcm",
    check: toBase64Url(out.subarray(32)),
    iv: toBase64Url(iv),
    ciphertext: toBase64Url(ciphertext),
    tag: toBase64Url(tag),
  });
}

/** A v2 keystore file made from the format keystore-log.ts documents, not by the module itself. */
function writeDocumentedV2(passphrase: string, N: number, batches: unknown[]): string {
  const kdf = kdfOf(N);
  const out = derive(passphrase, kdf);
  const line = canonicalJson({
    v: 2,
    cipher: "aes-256-gcm",
    kdf,
    check: toBase64Url(out.subarray(32)),
    id: toBase64Url(randomBytes(16)),
  });
  let prev = "";
  const records = batches.map((batch, n) => {
    const { iv, ciphertext, tag } = seal(
      out.subarray(0, 32),
      JSON.stringify(batch),
      canonicalJson({ header: line, n, prev }),
    );
    prev = toBase64Url(tag);
    return `${Buffer.concat([iv, ciphertext, tag]).toString("base64url")}\n`;
  });
  return `${line}\n${records.join("")}`;
}

/** A store with a snapshot and three update records (lines 1..4 after the header). */
async function storeWithRecords(): Promise<FileKeystore> {
  const store = await FileKeystore.create(path, PW, initial, CHEAP);
  await store.update(parts({ "entry/c1/0": { seq: 1 } }));
  await store.update(parts({ "entry/c1/1": { seq: 2 }, "caucus/c1": { group: "g1" } }));
  await store.update(parts({ "entry/c1/0": undefined }));
  return store;
}
const afterRecords = {
  device: state,
  "caucus/c1": { group: "g1" },
  "entry/c1/1": { seq: 2 },
};

/** Runs a module snippet in a child process (tsx), with the keystore module as argv[1]. */
function child(code: string, args: string[]) {
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code, module, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}

describe("FileKeystore", () => {
  test("round trip: create, reopen, set and delete parts, reopen", async () => {
    const created = await FileKeystore.create(path, "correct horse", initial, CHEAP);
    expect(created.read()).toEqual(Object.fromEntries(initial));
    expect((await FileKeystore.open(path, "correct horse", CHEAP)).read()).toEqual(
      Object.fromEntries(initial),
    );

    await created.update(parts({ "caucus/c1": undefined, "entry/c2/0": { seq: 1 }, missing: undefined }));
    const after = { device: state, "entry/c2/0": { seq: 1 } };
    expect(created.read()).toEqual(after);
    expect((await FileKeystore.open(path, "correct horse", CHEAP)).read()).toEqual(after);
    await created.update(new Map()); // nothing to write
    expect((await lines()).length).toBe(3); // header, snapshot, one record
  });

  test("read() hands out copies", async () => {
    const store = await FileKeystore.create(path, PW, parts({ n: { n: 1 } }), CHEAP);
    (store.read().n as { n: number }).n = 2;
    expect(store.read()).toEqual({ n: { n: 1 } });
  });

  test.runIf(unixPermissions)(
    "file is 0600 and a created directory 0700, after appends and rewrites",
    async () => {
      const store = await FileKeystore.create(path, PW, initial, CHEAP);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, "device"))).mode & 0o777).toBe(0o700);
      await store.update(parts({ again: true }));
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      await store.compact();
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]); // no lock or temp file left
    },
  );

  test("plaintext never reaches the disk, and each record uses a fresh IV", async () => {
    const store = await FileKeystore.create(path, PW, initial, CHEAP);
    await store.update(parts({ device: state }));
    await store.update(parts({ device: state }));
    const file = await readFile(path);
    for (const secret of [SECRET, "no new strikes", "caucus/c1", "device", "identityKey"])
      expect(file.includes(secret), secret).toBe(false);
    const [, , a, b] = await lines();
    expect(a!.slice(0, 16)).not.toBe(b!.slice(0, 16)); // the IV leads each record
  });

  test("file format: a v2 header with scrypt at least N=2^17 (OWASP's floor), then base64url records", async () => {
    // The production cost: no options.
    const store = await FileKeystore.create(path, PW, initial);
    await store.update(parts({ "entry/c1/0": { seq: 1 } }));
    const [first, ...records] = await lines();
    const h = JSON.parse(first!) as { kdf: { N: number } } & Record<string, unknown>;
    expect(first).toBe(`${canonicalJson(h as never)}\n`);
    expect(h).toMatchObject({ v: 2, kdf: { name: "scrypt", r: 8, p: 1 }, cipher: "aes-256-gcm" });
    expect(h.kdf.N).toBeGreaterThanOrEqual(FLOOR);
    expect(Object.keys(h).sort()).toEqual(["check", "cipher", "id", "kdf", "v"]);
    expect(records).toHaveLength(2);
    for (const r of records) expect(r).toMatch(/^[A-Za-z0-9_-]+\n$/);
    const before = await readFile(path);
    expect((await FileKeystore.open(path, PW)).read()).toEqual({
      ...Object.fromEntries(initial),
      "entry/c1/0": { seq: 1 },
    });
    expect((await readFile(path)).equals(before)).toBe(true); // opening changed nothing
  });

  test("a v2 file written from the documented format opens, its batches applied in order", async () => {
    await mkdir(join(dir, "device"));
    await writeFile(
      path,
      writeDocumentedV2(PW, 2 ** 14, [
        { set: { a: 1, b: { x: [2] } } },
        { set: { c: 3 }, delete: ["a"] },
        {},
      ]),
    );
    expect((await openCheap()).read()).toEqual({ b: { x: [2] }, c: 3 });
  });

  test("a new keystore refuses a passphrase below the policy: passphrase_weak, nothing written", async () => {
    for (const weak of ["", "x", "1234567", "       ", "e\u0301e\u0301e\u0301e\u0301"]) {
      const error = await FileKeystore.create(path, weak, initial).catch((e: unknown) => e);
      expect(error, JSON.stringify(weak)).toBeInstanceOf(KeystoreError);
      expect((error as KeystoreError).code).toBe("passphrase_weak");
      expect((error as KeystoreError).message).toContain("at least 8 characters");
    }
    await expect(stat(path)).rejects.toThrow();
    expect(() => checkNewPassphrase("12345678")).not.toThrow();
  });

  test("wrong passphrase is keystore_passphrase", async () => {
    await storeWithRecords();
    await expectKeystoreError(FileKeystore.open(path, "correct hors", CHEAP), "keystore_passphrase");
  });

  test("changed kdf parameters do not open", async () => {
    await storeWithRecords();
    const [first, ...rest] = await lines();
    const h = JSON.parse(first!) as { kdf: { p: number } };
    h.kdf.p = 2;
    await writeFile(path, [`${canonicalJson(h)}\n`, ...rest].join(""));
    // Different parameters derive a different key, which the check reports as a wrong passphrase.
    await expectKeystoreError(openCheap(), "keystore_passphrase");
  });

  test("a flipped bit in any record, or in the header's id, is keystore_corrupt", async () => {
    await storeWithRecords();
    const good = await readFile(path);
    const [first] = await lines();
    const positions = new Set<number>();
    // Every line's first and last characters and its newline (the file's very last byte aside:
    // see the next test), the id in the header, and a spread of positions in between.
    let start = 0;
    for (const line of await lines()) {
      positions
        .add(start)
        .add(start + 1)
        .add(start + line.length - 2)
        .add(start + line.length - 1);
      start += line.length;
    }
    positions.add(first!.indexOf('"id":"') + 7);
    for (let i = 0; i < 12; i++)
      positions.add(first!.length + Math.floor(((good.length - first!.length) * i) / 12));
    positions.delete(good.length - 1);
    positions.delete(0); // "{" → "z": not JSON at all, corrupt as well, but by another route
    expect(positions.size).toBeGreaterThan(20);
    for (const at of positions) {
      for (const mask of at < first!.length ? [0x20] : [0x01, 0x20]) {
        const bad = Buffer.from(good);
        bad[at] = bad[at]! ^ mask;
        await writeFile(path, bad);
        const error = await openCheap().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((error as KeystoreError | undefined)?.code, `byte ${at} ^ ${mask}`).toBe("keystore_corrupt");
      }
    }
  }, 120_000);

  test("a torn last record (a crash mid-append) is ignored, and cut off by the next update", async () => {
    await storeWithRecords();
    const good = await readFile(path);
    const all = await lines();
    const last = all.at(-1)!;
    const withoutLast = good.subarray(0, good.length - last.length);
    const beforeLast = { ...afterRecords, "entry/c1/0": { seq: 1 } };
    // Torn anywhere in the line, its newline included; or garbage (zeros) where it would be.
    for (const keep of [1, last.length >> 1, last.length - 1]) {
      await writeFile(path, Buffer.concat([withoutLast, Buffer.from(last.slice(0, keep), "latin1")]));
      expect((await openCheap()).read()).toEqual(beforeLast);
    }
    await writeFile(path, Buffer.concat([withoutLast, Buffer.alloc(300)]));
    const reopened = await openCheap();
    expect(reopened.read()).toEqual(beforeLast);
    await reopened.update(parts({ later: 1 }));
    expect((await openCheap()).read()).toEqual({ ...beforeLast, later: 1 });
    expect((await readFile(path)).includes(Buffer.alloc(8))).toBe(false); // the torn bytes are gone
    // Only bytes after the last newline are forgiven: a short record that ends in one is damage.
    await writeFile(path, Buffer.concat([withoutLast, Buffer.from(`${last.slice(0, 20)}\n`, "latin1")]));
    await expectKeystoreError(openCheap(), "keystore_corrupt");
  });

  test("records moved, repeated, removed from the middle or taken from another file are keystore_corrupt", async () => {
    await storeWithRecords();
    const [h, snapshot, r1, r2, r3] = await lines();
    const cases: Record<string, string[]> = {
      swapped: [h!, snapshot!, r2!, r1!, r3!],
      "last two swapped": [h!, snapshot!, r1!, r3!, r2!],
      repeated: [h!, snapshot!, r1!, r1!, r2!, r3!],
      "repeated at the end": [h!, snapshot!, r1!, r2!, r3!, r3!],
      "removed from the middle": [h!, snapshot!, r2!, r3!],
      "snapshot removed": [h!, r1!, r2!, r3!],
      "snapshot repeated": [h!, snapshot!, snapshot!, r1!],
      "no snapshot at all": [h!],
    };
    // Another keystore under the same passphrase, and this one before a rewrite.
    const otherPath = join(dir, "other.json");
    const other = await FileKeystore.create(otherPath, PW, initial, CHEAP);
    await other.update(parts({ "entry/c1/0": { seq: 1 } }));
    const [oh, os, or1] = (await readFile(otherPath, "latin1")).split(/(?<=\n)/);
    cases["a record of another keystore"] = [h!, snapshot!, or1!, r2!, r3!];
    cases["another keystore's header"] = [oh!, snapshot!, r1!];
    cases["another keystore's snapshot"] = [h!, os!, r1!, r2!, r3!];
    const earlier = await readFile(path, "latin1");
    await (await openCheap()).compact();
    const [ch, cs] = await lines();
    cases["a record from before a rewrite"] = [ch!, cs!, r1!];
    for (const [name, file] of Object.entries(cases)) {
      await writeFile(path, file.join(""));
      const error = await openCheap().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as KeystoreError | undefined)?.code, name).toBe("keystore_corrupt");
    }
    // Whole files, old or new, open: an older copy is not something a file can detect.
    await writeFile(path, earlier);
    expect((await openCheap()).read()).toEqual(afterRecords);
  });

  test("compaction keeps the parts and shrinks the file; it happens on its own once the log outgrows them", async () => {
    const store = await storeWithRecords();
    for (let i = 0; i < 5; i++) await store.update(parts({ device: { ...state, i } }));
    const expected = { ...afterRecords, device: { ...state, i: 4 } };
    const before = (await stat(path)).size;
    await store.compact();
    expect((await lines()).length).toBe(2); // header and snapshot
    expect((await stat(path)).size).toBeLessThan(before);
    expect(store.read()).toEqual(expected);
    expect((await openCheap()).read()).toEqual(expected);
    await store.update(parts({ after: 1 })); // appends to the new file
    expect((await openCheap()).read()).toEqual({ ...expected, after: 1 });

    // 100 KiB rewritten 20 times: 2 MiB of log over 100 KiB of parts.
    const big = "x".repeat(100 * 1024);
    let largest = 0;
    for (let i = 0; i < 20; i++) {
      await store.update(parts({ big: { i, big } }));
      largest = Math.max(largest, (await stat(path)).size);
    }
    expect(largest).toBeLessThan(2 * 140 * 1024 + 1024 * 1024 + 200 * 1024);
    expect((await openCheap()).read()).toEqual({ ...expected, after: 1, big: { i: 19, big } });
  });

  test("an update writes what changed: one small part into 10,000 adds a few hundred bytes", async () => {
    const many = new Map<string, unknown>();
    for (let n = 0; n < 10_000; n++)
      many.set(`entry/c1/${n}`, { seq: n + 1, hash: "ab".repeat(32), payload: { text: `message ${n}` } });
    const store = await FileKeystore.create(path, PW, many, CHEAP);
    const sizes = [(await stat(path)).size];
    for (let n = 10_000; n < 10_010; n++) {
      await store.update(parts({ [`entry/c1/${n}`]: { seq: n + 1, hash: "cd".repeat(32) } }));
      sizes.push((await stat(path)).size);
    }
    const grown = sizes.slice(1).map((s, i) => s - sizes[i]!);
    expect(sizes[0]).toBeGreaterThan(1_000_000);
    for (const g of grown) expect(g).toBeLessThan(400);
    expect(Object.keys((await openCheap()).read())).toHaveLength(10_010);
  });

  test('a v1 file (the first format) opens as the part "state"; the first update converts it', async () => {
    await mkdir(join(dir, "device"));
    await writeFile(path, writeDocumentedV1(PW, 2 ** 14, state));
    const store = await openCheap();
    expect(store.read()).toEqual({ state });
    expect((await readFile(path, "utf8")).startsWith('{"v":1')).toBe(true); // opening alone writes nothing
    // What the sdk's first save does: the parts, and the whole state deleted.
    await store.update(parts({ state: undefined, device: state, "caucus/c1": { group: "g" } }));
    expect((await header()).v).toBe(2);
    const expected = { device: state, "caucus/c1": { group: "g" } };
    expect(store.read()).toEqual(expected);
    expect((await openCheap()).read()).toEqual(expected);
    // Without the header as AAD, a v1 file is corrupt.
    await writeFile(path, writeDocumentedV1(PW, 2 ** 14, state, ""));
    await expectKeystoreError(openCheap(), "keystore_corrupt");
  });

  test("an older keystore (v1, N=2^15) is raised to the floor on unlock, under a fresh salt, and stays readable", async () => {
    await mkdir(join(dir, "device"));
    // Written as the code before the floor did; its passphrase is below today's policy too, and a
    // keystore that exists keeps opening with the passphrase it has.
    await writeFile(path, writeDocumentedV1("pw", 2 ** 15, state));
    const before = JSON.parse(await readFile(path, "utf8")) as { kdf: { N: number; salt: string } };
    const store = await FileKeystore.open(path, "pw");
    expect(store.read()).toEqual({ state });
    const after = await header();
    expect(after.kdf).toMatchObject({ name: "scrypt", N: FLOOR, r: 8, p: 1 });
    expect(after.kdf.salt).not.toBe(before.kdf.salt);
    expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]);
    await store.update(parts({ n: 2 })); // the open store writes under the new key
    const again = await FileKeystore.open(path, "pw");
    expect(again.read()).toEqual({ state, n: 2 });
    expect((await header()).kdf).toEqual(after.kdf);
    await expectKeystoreError(FileKeystore.open(path, "pX"), "keystore_passphrase");
  });

  test("garbage, truncated or hostile files are keystore_corrupt", async () => {
    await storeWithRecords();
    const good = await readFile(path, "utf8");
    const [first, ...rest] = good.split(/(?<=\n)/);
    const h = JSON.parse(first!) as Record<string, unknown> & { kdf: Record<string, unknown> };
    const withHeader = (changes: Record<string, unknown>) =>
      `${JSON.stringify({ ...h, ...changes })}\n${rest.join("")}`;
    const cases = [
      "",
      "not json",
      "\n\n",
      first!, // a header and nothing else
      first!.slice(0, first!.length >> 1),
      `${first!}${rest[0]!.slice(0, 40)}`, // a torn snapshot: snapshots are written whole
      withHeader({ v: 3 }),
      withHeader({ id: "short" }),
      withHeader({ extra: 1 }),
      // A file asking for 1 TiB of scrypt memory must be refused, not attempted.
      withHeader({ kdf: { ...h.kdf, N: 2 ** 30 } }),
      // …or minutes of CPU, or almost none (a weak key nobody asked for).
      withHeader({ kdf: { ...h.kdf, N: 2 ** 16, r: 32, p: 16 } }),
      withHeader({ kdf: { ...h.kdf, N: 1024 } }),
      JSON.stringify({ v: 1, kdf: h.kdf, cipher: "aes-256-gcm", check: h.check, iv: "!!" }),
    ];
    for (const content of cases) {
      await writeFile(path, content);
      const error = await openCheap().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as KeystoreError | undefined)?.code, JSON.stringify(content.slice(0, 80))).toBe(
        "keystore_corrupt",
      );
    }
  });

  test("missing file is keystore_missing; existing file is keystore_exists", async () => {
    await expectKeystoreError(openCheap(), "keystore_missing");
    await FileKeystore.create(path, PW, initial, CHEAP);
    await expectKeystoreError(
      FileKeystore.create(path, "another passphrase", parts({ evil: true }), CHEAP),
      "keystore_exists",
    );
    expect((await openCheap()).read()).toEqual(Object.fromEntries(initial));
  });

  test("concurrent updates land in call order, each whole", async () => {
    const store = await FileKeystore.create(path, PW, parts({ n: 0 }), CHEAP);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.update(parts({ n: i + 1, [`k${i}`]: i }))));
    const expected = { n: 20, ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])) };
    expect(store.read()).toEqual(expected);
    expect((await openCheap()).read()).toEqual(expected);
    expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]);
  });

  test("a value that is not JSON is refused; a removed directory is recreated", async () => {
    const store = await FileKeystore.create(path, PW, parts({ n: 1 }), CHEAP);
    await expect(store.update(parts({ n: 2n }))).rejects.toThrow(TypeError); // BigInt is not JSON
    await rm(join(dir, "device"), { recursive: true });
    await store.update(parts({ n: 3 })); // the directory and the file are written anew
    expect((await openCheap()).read()).toEqual({ n: 3 });
  });

  test("another writer of the same file (another process of the device): each sees the other's updates", async () => {
    const a = await FileKeystore.create(path, PW, parts({ shared: 0 }), CHEAP);
    const b = await openCheap();
    await a.update(parts({ a: 1, shared: "a" }));
    await b.update(parts({ b: 1 })); // reads a's record first, then appends after it
    expect(b.read()).toEqual({ a: 1, b: 1, shared: "a" });
    await a.compact(); // a rewrites the file under b
    await b.update(parts({ shared: "b" }));
    await a.update(parts({ a: 2 }));
    const expected = { a: 2, b: 1, shared: "b" };
    expect(a.read()).toEqual(expected);
    expect((await openCheap()).read()).toEqual(expected);
  });

  test("a writer re-derives its key when another process raised the file's cost", async () => {
    // a opened it at its own cost (no upgrade); b, at the production cost, re-encrypts it.
    const a = await FileKeystore.create(path, PW, parts({ shared: 0 }), CHEAP);
    const b = await FileKeystore.open(path, PW);
    expect((await header()).kdf.N).toBe(FLOOR);
    await a.update(parts({ a: 1 }));
    await b.update(parts({ b: 1 }));
    expect((await FileKeystore.open(path, PW)).read()).toEqual({ shared: 0, a: 1, b: 1 });
    expect((await header()).kdf.N).toBe(FLOOR);
  });

  test("a writer refuses to write into another keystore that took its file's place", async () => {
    const a = await FileKeystore.create(path, PW, parts({ mine: 1 }), CHEAP);
    await rm(path);
    await FileKeystore.create(path, PW, parts({ theirs: 1 }), CHEAP);
    const theirs = await readFile(path);
    await expectKeystoreError(a.update(parts({ mine: 2 })), "keystore_exists");
    expect((await readFile(path)).equals(theirs)).toBe(true);
  });

  test("two processes updating one keystore at once: every update lands, the file stays valid", async () => {
    await FileKeystore.create(path, PW, parts({ start: true }), CHEAP);
    const writer = `const { FileKeystore } = await import(process.argv[1]);
      const store = await FileKeystore.open(process.argv[2], process.argv[3], JSON.parse(process.argv[4]));
      const me = process.argv[5];
      for (let i = 0; i < 40; i++)
        await store.update(new Map([[me + "/" + i, i], ["last", me], ["pad/" + me, "x".repeat(i * 3000)]]));`;
    const runs = ["a", "b"].map(
      (me) =>
        new Promise<number | null>((resolve, reject) => {
          const c = child(writer, [path, PW, JSON.stringify(CHEAP), me]);
          c.on("error", reject);
          c.on("exit", resolve);
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0]);
    const read = (await openCheap()).read();
    for (const me of ["a", "b"]) for (let i = 0; i < 40; i++) expect(read[`${me}/${i}`]).toBe(i);
    expect(["a", "b"]).toContain(read.last);
    expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]);
  }, 60_000);

  test("a writer killed with SIGKILL mid-update leaves a valid file holding its last acknowledged update", async () => {
    await FileKeystore.create(path, PW, parts({ n: 0 }), CHEAP);
    // Big values so the kill very likely lands inside a write (appends, and the rewrites that
    // follow once the log has grown), not between two.
    const writer = `const { FileKeystore } = await import(process.argv[1]);
      const store = await FileKeystore.open(process.argv[2], process.argv[3], JSON.parse(process.argv[4]));
      const pad = "x".repeat(1 << 18);
      for (let n = 1; ; n++) { await store.update(new Map([["n", n], ["pad", pad + n]])); process.stdout.write(n + "\\n"); }`;
    const c = child(writer, [path, PW, JSON.stringify(CHEAP)]);
    let output = "";
    let acknowledged = 0;
    const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      c.on("error", reject);
      c.on("exit", (_code, signal) => resolve(signal));
      c.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const complete = output.slice(0, output.lastIndexOf("\n")).split("\n");
        acknowledged = Number(complete[complete.length - 1] ?? 0);
        if (acknowledged >= 6) c.kill("SIGKILL");
      });
    });
    expect(signal).toBe("SIGKILL"); // not a writer that died on its own before doing anything
    const reopened = await openCheap();
    const { n } = reopened.read() as { n: number };
    expect(n).toBeGreaterThanOrEqual(acknowledged);
    expect(n).toBeLessThanOrEqual(acknowledged + 1);
    // The next writer is not held up by the lock the dead one may have left.
    await reopened.update(parts({ n: 100 }));
    expect((await openCheap()).read()).toMatchObject({ n: 100 });
  });

  test("a process killed mid-upgrade leaves a keystore that opens with its state", async () => {
    await mkdir(join(dir, "device"));
    // Large, so the upgrade's write takes long enough for the kill to land inside it.
    const big = { ...state, pad: "x".repeat(1 << 21) };
    const opener = `const { FileKeystore } = await import(process.argv[1]);
      await FileKeystore.open(process.argv[2], process.argv[3]);
      process.stdout.write("opened\\n");`;
    // On a busy machine the write can come and go between two looks: try again (at most 3 times).
    let killedInside = false;
    for (let attempt = 0; attempt < 3 && !killedInside; attempt++) {
      await writeFile(path, writeDocumentedV1(PW, 2 ** 15, big));
      const c = child(opener, [path, PW]);
      let opened = false;
      c.stdout.on("data", () => (opened = true));
      const exited = new Promise<NodeJS.Signals | null>((resolve, reject) => {
        c.on("error", reject);
        c.on("exit", (_code, signal) => resolve(signal));
      });
      // Kill as soon as the upgrade's temp file appears: the new file is being written.
      while (c.exitCode === null && c.signalCode === null) {
        if ((await readdir(join(dir, "device"))).some((f) => f.endsWith(".tmp"))) {
          c.kill("SIGKILL");
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      killedInside = (await exited) === "SIGKILL" && !opened;
      const reopened = await FileKeystore.open(path, PW);
      expect(reopened.read()).toEqual({ state: big });
      expect((await header()).kdf.N).toBe(FLOOR);
    }
    expect(killedInside).toBe(true);
  });

  test("a reader opening while another process appends sees a whole state, never a torn one", async () => {
    const store = await FileKeystore.create(path, PW, parts({ n: 0 }), CHEAP);
    const pad = "x".repeat(300_000);
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        // A torn record would not open (keystore_corrupt); a whole one holds n with its own pad.
        const { n, pad: seen } = (await openCheap()).read() as { n: number; pad?: string };
        expect(seen).toBe(n === 0 ? undefined : pad + n);
        reads++;
      }
    })();
    for (let n = 1; n <= 8; n++) await store.update(parts({ n, pad: pad + n }));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await openCheap()).read()).toMatchObject({ n: 8 });
  });
});
