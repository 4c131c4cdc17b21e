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
const unixPermissions = process.platform !== "win32";
const PW = "correct horse battery";
/**
 * The file keystore's own unit tests run at scrypt N=2^14, passed explicitly: ~20 keystores at
 * production cost would add half a minute. The tests of the cost itself, of the upgrade and of
 * every caller (sdk, CLI) use the production default.
 */
const CHEAP = { scrypt: { N: 2 ** 14, r: 8, p: 1 } };
const FLOOR = 2 ** 17;

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

/** A keystore file made from the format the module documents, not by the module itself. */
function writeDocumentedFormat(passphrase: string, N: number, value: unknown, aad?: string): string {
  const kdf = { name: "scrypt", salt: toBase64Url(randomBytes(16)), N, r: 8, p: 1 };
  const out = scryptSync(passphrase, fromBase64Url(kdf.salt), 48, { N, r: 8, p: 1, maxmem: 2 * 128 * N * 8 });
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", out.subarray(0, 32), iv);
  cipher.setAAD(Buffer.from(aad ?? canonicalJson({ v: 1, cipher: "aes-256-gcm", kdf })));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value)), cipher.final()]);
  return JSON.stringify({
    v: 1,
    kdf,
    cipher: "aes-256-gcm",
    check: toBase64Url(out.subarray(32)),
    iv: toBase64Url(iv),
    ciphertext: toBase64Url(ciphertext),
    tag: toBase64Url(cipher.getAuthTag()),
  });
}

async function tamper(field: "ciphertext" | "tag" | "iv", mutate: (b: Uint8Array) => void) {
  const file = JSON.parse(await readFile(path, "utf8")) as Record<string, string>;
  const bytes = fromBase64Url(file[field]!);
  mutate(bytes);
  file[field] = toBase64Url(bytes);
  await writeFile(path, JSON.stringify(file));
}

describe("FileKeystore", () => {
  test("round trip: create, reopen, write, reopen", async () => {
    const created = await FileKeystore.create(path, "correct horse", state, CHEAP);
    expect(created.read()).toEqual(state);
    expect((await FileKeystore.open(path, "correct horse", CHEAP)).read()).toEqual(state);

    const next = { ...state, channels: {} };
    await created.write(next);
    expect(created.read()).toEqual(next);
    expect((await FileKeystore.open(path, "correct horse", CHEAP)).read()).toEqual(next);
  });

  test("read() hands out copies", async () => {
    const store = await FileKeystore.create(path, PW, { n: 1 }, CHEAP);
    (store.read() as { n: number }).n = 2;
    expect(store.read()).toEqual({ n: 1 });
  });

  test.runIf(unixPermissions)("file is 0600 and a created directory 0700", async () => {
    const store = await FileKeystore.create(path, PW, state, CHEAP);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "device"))).mode & 0o777).toBe(0o700);
    await store.write({ again: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  test("plaintext never reaches the disk, and each write uses a fresh IV", async () => {
    const store = await FileKeystore.create(path, PW, state, CHEAP);
    const first = await readFile(path);
    expect(first.includes(SECRET)).toBe(false);
    expect(first.includes("no new strikes")).toBe(false);
    await store.write(state);
    const second = await readFile(path, "utf8");
    expect(second.includes(SECRET)).toBe(false);
    const iv = (s: string) => (JSON.parse(s) as { iv: string }).iv;
    expect(iv(second)).not.toBe(iv(first.toString("utf8")));
  });

  test("file format: version, scrypt parameters at least N=2^17 (OWASP's floor), AES-256-GCM", async () => {
    // The production cost: no options.
    await FileKeystore.create(path, PW, state);
    const file = JSON.parse(await readFile(path, "utf8")) as { kdf: { N: number } } & Record<string, unknown>;
    expect(file).toMatchObject({ v: 1, kdf: { name: "scrypt", r: 8, p: 1 }, cipher: "aes-256-gcm" });
    expect(file.kdf.N).toBeGreaterThanOrEqual(FLOOR);
    expect(Object.keys(file).sort()).toEqual(["check", "cipher", "ciphertext", "iv", "kdf", "tag", "v"]);
    expect((await FileKeystore.open(path, PW)).read()).toEqual(state);
    expect(await readFile(path, "utf8")).toBe(`${JSON.stringify(file, null, 1)}\n`); // opening changed nothing
  });

  test("a new keystore refuses a passphrase below the policy: passphrase_weak, nothing written", async () => {
    for (const weak of ["", "x", "1234567", "       ", "e\u0301e\u0301e\u0301e\u0301"]) {
      const error = await FileKeystore.create(path, weak, state).catch((e: unknown) => e);
      expect(error, JSON.stringify(weak)).toBeInstanceOf(KeystoreError);
      expect((error as KeystoreError).code).toBe("passphrase_weak");
      expect((error as KeystoreError).message).toContain("at least 8 characters");
    }
    await expect(stat(path)).rejects.toThrow();
    expect(() => checkNewPassphrase("12345678")).not.toThrow();
  });

  test("wrong passphrase is keystore_passphrase", async () => {
    await FileKeystore.create(path, "correct horse", state, CHEAP);
    await expectKeystoreError(FileKeystore.open(path, "correct hors", CHEAP), "keystore_passphrase");
  });

  test("tampered ciphertext or tag is keystore_corrupt", async () => {
    await FileKeystore.create(path, PW, state, CHEAP);
    await tamper("ciphertext", (b) => (b[0] = b[0]! ^ 1));
    await expectKeystoreError(FileKeystore.open(path, PW, CHEAP), "keystore_corrupt");

    await rm(path);
    await FileKeystore.create(path, PW, state, CHEAP);
    await tamper("tag", (b) => (b[15] = b[15]! ^ 0x80));
    await expectKeystoreError(FileKeystore.open(path, PW, CHEAP), "keystore_corrupt");
  });

  test("changed kdf parameters do not open", async () => {
    await FileKeystore.create(path, PW, state, CHEAP);
    const file = JSON.parse(await readFile(path, "utf8")) as { kdf: { p: number } };
    file.kdf.p = 2;
    await writeFile(path, JSON.stringify(file));
    // Different parameters derive a different key, which the check reports as a wrong passphrase.
    await expectKeystoreError(FileKeystore.open(path, PW, CHEAP), "keystore_passphrase");
  });

  test("a file written from the documented format opens; without the header as AAD it is corrupt", async () => {
    await mkdir(join(dir, "device"));
    await writeFile(path, writeDocumentedFormat(PW, 2 ** 14, state));
    expect((await FileKeystore.open(path, PW, CHEAP)).read()).toEqual(state);
    await writeFile(path, writeDocumentedFormat(PW, 2 ** 14, state, ""));
    await expectKeystoreError(FileKeystore.open(path, PW, CHEAP), "keystore_corrupt");
  });

  test("an older keystore (N=2^15) is raised to the floor on unlock, under a fresh salt, and stays readable", async () => {
    await mkdir(join(dir, "device"));
    // Written as the code before the floor did; its passphrase is below today's policy too, and a
    // keystore that exists keeps opening with the passphrase it has.
    await writeFile(path, writeDocumentedFormat("pw", 2 ** 15, state));
    const before = JSON.parse(await readFile(path, "utf8")) as { kdf: { N: number; salt: string } };
    const store = await FileKeystore.open(path, "pw");
    expect(store.read()).toEqual(state);
    const after = JSON.parse(await readFile(path, "utf8")) as { kdf: { N: number; salt: string } };
    expect(after.kdf).toMatchObject({ name: "scrypt", N: FLOOR, r: 8, p: 1 });
    expect(after.kdf.salt).not.toBe(before.kdf.salt);
    expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]);
    await store.write({ ...state, n: 2 }); // the open store writes under the new key
    const again = await FileKeystore.open(path, "pw");
    expect(again.read()).toEqual({ ...state, n: 2 });
    expect((JSON.parse(await readFile(path, "utf8")) as { kdf: unknown }).kdf).toEqual(after.kdf);
    await expectKeystoreError(FileKeystore.open(path, "pX"), "keystore_passphrase");
  });

  test("garbage, truncated or hostile files are keystore_corrupt", async () => {
    await FileKeystore.create(path, PW, state, CHEAP);
    const good = await readFile(path, "utf8");
    const cases = [
      "",
      "not json",
      good.slice(0, good.length / 2),
      JSON.stringify({ ...JSON.parse(good), v: 2 }),
      JSON.stringify({ ...JSON.parse(good), iv: "!!" }),
      // A file asking for 1 TiB of scrypt memory must be refused, not attempted.
      JSON.stringify({ ...JSON.parse(good), kdf: { ...JSON.parse(good).kdf, N: 2 ** 30 } }),
      // …or minutes of CPU, or almost none (a weak key nobody asked for).
      JSON.stringify({ ...JSON.parse(good), kdf: { ...JSON.parse(good).kdf, N: 2 ** 16, r: 32, p: 16 } }),
      JSON.stringify({ ...JSON.parse(good), kdf: { ...JSON.parse(good).kdf, N: 1024 } }),
    ];
    for (const content of cases) {
      await writeFile(path, content);
      await expectKeystoreError(FileKeystore.open(path, PW, CHEAP), "keystore_corrupt");
    }
  });

  test("missing file is keystore_missing; existing file is keystore_exists", async () => {
    await expectKeystoreError(FileKeystore.open(path, PW, CHEAP), "keystore_missing");
    await FileKeystore.create(path, PW, state, CHEAP);
    await expectKeystoreError(
      FileKeystore.create(path, "another passphrase", { evil: true }, CHEAP),
      "keystore_exists",
    );
    expect((await FileKeystore.open(path, PW, CHEAP)).read()).toEqual(state);
  });

  test("overwrites are atomic: concurrent writes leave one valid file, the last one, and no temp files", async () => {
    const store = await FileKeystore.create(path, PW, { n: 0 }, CHEAP);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write({ n: i + 1 })));
    expect(store.read()).toEqual({ n: 20 });
    expect((await FileKeystore.open(path, PW, CHEAP)).read()).toEqual({ n: 20 });
    expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]);
  });

  test("a value that is not JSON is refused; a removed directory is recreated", async () => {
    const store = await FileKeystore.create(path, PW, { n: 1 }, CHEAP);
    await expect(store.write({ n: 2n })).rejects.toThrow(TypeError); // BigInt is not JSON
    await rm(join(dir, "device"), { recursive: true });
    await store.write({ n: 3 }); // the directory is recreated
    expect((await FileKeystore.open(path, PW, CHEAP)).read()).toEqual({ n: 3 });
  });

  test("a concurrent reader never sees a torn file", async () => {
    const store = await FileKeystore.create(path, PW, { n: 0 }, CHEAP);
    // Over Node's 512 KiB writeFile chunk, so a non-atomic writer needs several write() calls.
    const pad = "x".repeat(600_000);
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const file = JSON.parse(await readFile(path, "utf8")) as { tag?: string };
        expect(file.tag).toBeTypeOf("string");
        reads++;
      }
    })();
    for (let n = 1; n <= 3; n++) await store.write({ n, pad });
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await FileKeystore.open(path, PW, CHEAP)).read()).toMatchObject({ n: 3 });
  });

  test("a writer killed with SIGKILL mid-write leaves a valid file holding its last acknowledged write", async () => {
    await FileKeystore.create(path, PW, { n: 0 }, CHEAP);
    const module = fileURLToPath(new URL("./file-keystore.ts", import.meta.url));
    // Big values so the kill very likely lands inside a write, not between two.
    const writer = `const { FileKeystore } = await import(process.argv[1]);
      const store = await FileKeystore.open(process.argv[2], process.argv[3], JSON.parse(process.argv[4]));
      const pad = "x".repeat(1 << 18);
      for (let n = 1; ; n++) { await store.write({ n, pad }); process.stdout.write(n + "\\n"); }`;
    const args = [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      writer,
      module,
      path,
      PW,
      JSON.stringify(CHEAP),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    let acknowledged = 0;
    const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (_code, signal) => resolve(signal));
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const complete = output.slice(0, output.lastIndexOf("\n")).split("\n");
        acknowledged = Number(complete[complete.length - 1] ?? 0);
        if (acknowledged >= 3) child.kill("SIGKILL");
      });
    });
    expect(signal).toBe("SIGKILL"); // not a writer that died on its own before doing anything
    const { n } = (await FileKeystore.open(path, PW, CHEAP)).read() as { n: number };
    expect(n).toBeGreaterThanOrEqual(acknowledged);
    expect(n).toBeLessThanOrEqual(acknowledged + 1);
  });

  test("a process killed mid-upgrade leaves a keystore that opens with its state", async () => {
    await mkdir(join(dir, "device"));
    // Large, so the upgrade's write takes long enough for the kill to land inside it.
    const big = { ...state, pad: "x".repeat(1 << 21) };
    await writeFile(path, writeDocumentedFormat(PW, 2 ** 15, big));
    const module = fileURLToPath(new URL("./file-keystore.ts", import.meta.url));
    const opener = `const { FileKeystore } = await import(process.argv[1]);
      await FileKeystore.open(process.argv[2], process.argv[3]);
      process.stdout.write("opened\\n");`;
    const args = ["--import", "tsx", "--input-type=module", "-e", opener, module, path, PW];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let opened = false;
    child.stdout.on("data", () => (opened = true));
    const exited = new Promise<NodeJS.Signals | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (_code, signal) => resolve(signal));
    });
    // Kill as soon as the upgrade's temp file appears: the new file is being written.
    let sawTemp = false;
    while (child.exitCode === null && child.signalCode === null) {
      if ((await readdir(join(dir, "device"))).some((f) => f.endsWith(".tmp"))) {
        sawTemp = true;
        child.kill("SIGKILL");
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await exited).toBe("SIGKILL");
    expect(sawTemp).toBe(true);
    expect(opened).toBe(false);
    const reopened = await FileKeystore.open(path, PW);
    expect(reopened.read()).toEqual(big);
    expect((JSON.parse(await readFile(path, "utf8")) as { kdf: { N: number } }).kdf.N).toBe(FLOOR);
  });
});
