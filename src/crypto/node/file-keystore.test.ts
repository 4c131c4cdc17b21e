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

const SECRET = "identity-seed-5b1f0c9e-do-not-leak";
const state = {
  identityKey: { secret: SECRET, publicKey: "pk" },
  channels: { c1: { topic: "no new strikes" } },
};
const unixPermissions = process.platform !== "win32";

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

async function tamper(field: "ciphertext" | "tag" | "iv", mutate: (b: Uint8Array) => void) {
  const file = JSON.parse(await readFile(path, "utf8")) as Record<string, string>;
  const bytes = fromBase64Url(file[field]!);
  mutate(bytes);
  file[field] = toBase64Url(bytes);
  await writeFile(path, JSON.stringify(file));
}

describe("FileKeystore", () => {
  test("round trip: create, reopen, write, reopen", async () => {
    const created = await FileKeystore.create(path, "correct horse", state);
    expect(created.read()).toEqual(state);
    expect((await FileKeystore.open(path, "correct horse")).read()).toEqual(state);

    const next = { ...state, channels: {} };
    await created.write(next);
    expect(created.read()).toEqual(next);
    expect((await FileKeystore.open(path, "correct horse")).read()).toEqual(next);
  });

  test("read() hands out copies", async () => {
    const store = await FileKeystore.create(path, "pw", { n: 1 });
    (store.read() as { n: number }).n = 2;
    expect(store.read()).toEqual({ n: 1 });
  });

  test.runIf(unixPermissions)("file is 0600 and a created directory 0700", async () => {
    const store = await FileKeystore.create(path, "pw", state);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "device"))).mode & 0o777).toBe(0o700);
    await store.write({ again: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  test("plaintext never reaches the disk, and each write uses a fresh IV", async () => {
    const store = await FileKeystore.create(path, "pw", state);
    const first = await readFile(path);
    expect(first.includes(SECRET)).toBe(false);
    expect(first.includes("no new strikes")).toBe(false);
    await store.write(state);
    const second = await readFile(path, "utf8");
    expect(second.includes(SECRET)).toBe(false);
    const iv = (s: string) => (JSON.parse(s) as { iv: string }).iv;
    expect(iv(second)).not.toBe(iv(first.toString("utf8")));
  });

  test("file format: version, scrypt parameters, AES-256-GCM", async () => {
    await FileKeystore.create(path, "pw", state);
    const file = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    expect(file).toMatchObject({
      v: 1,
      kdf: { name: "scrypt", N: 32768, r: 8, p: 1 },
      cipher: "aes-256-gcm",
    });
    expect(Object.keys(file).sort()).toEqual(["check", "cipher", "ciphertext", "iv", "kdf", "tag", "v"]);
  });

  test("wrong passphrase is keystore_passphrase", async () => {
    await FileKeystore.create(path, "correct horse", state);
    await expectKeystoreError(FileKeystore.open(path, "correct hors"), "keystore_passphrase");
  });

  test("tampered ciphertext or tag is keystore_corrupt", async () => {
    await FileKeystore.create(path, "pw", state);
    await tamper("ciphertext", (b) => (b[0] = b[0]! ^ 1));
    await expectKeystoreError(FileKeystore.open(path, "pw"), "keystore_corrupt");

    await rm(path);
    await FileKeystore.create(path, "pw", state);
    await tamper("tag", (b) => (b[15] = b[15]! ^ 0x80));
    await expectKeystoreError(FileKeystore.open(path, "pw"), "keystore_corrupt");
  });

  test("changed kdf parameters do not open", async () => {
    await FileKeystore.create(path, "pw", state);
    const file = JSON.parse(await readFile(path, "utf8")) as { kdf: { p: number } };
    file.kdf.p = 2;
    await writeFile(path, JSON.stringify(file));
    // Different parameters derive a different key, which the check reports as a wrong passphrase.
    await expectKeystoreError(FileKeystore.open(path, "pw"), "keystore_passphrase");
  });

  test("a file written from the documented format opens; without the header as AAD it is corrupt", async () => {
    const kdf = { name: "scrypt", salt: toBase64Url(randomBytes(16)), N: 2 ** 14, r: 8, p: 1 };
    const out = scryptSync("pw", fromBase64Url(kdf.salt), 48, {
      N: kdf.N,
      r: kdf.r,
      p: kdf.p,
      maxmem: 64 * 2 ** 20,
    });
    const seal = (aad: string) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", out.subarray(0, 32), iv);
      cipher.setAAD(Buffer.from(aad));
      const ciphertext = Buffer.concat([cipher.update(JSON.stringify(state)), cipher.final()]);
      const check = toBase64Url(out.subarray(32));
      const tag = toBase64Url(cipher.getAuthTag());
      return JSON.stringify({
        v: 1,
        kdf,
        cipher: "aes-256-gcm",
        check,
        iv: toBase64Url(iv),
        ciphertext: toBase64Url(ciphertext),
        tag,
      });
    };
    await mkdir(join(dir, "device"));
    await writeFile(path, seal(canonicalJson({ v: 1, cipher: "aes-256-gcm", kdf })));
    expect((await FileKeystore.open(path, "pw")).read()).toEqual(state);
    await writeFile(path, seal(""));
    await expectKeystoreError(FileKeystore.open(path, "pw"), "keystore_corrupt");
  });

  test("garbage, truncated or hostile files are keystore_corrupt", async () => {
    await FileKeystore.create(path, "pw", state);
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
      JSON.stringify({ ...JSON.parse(good), kdf: { ...JSON.parse(good).kdf, r: 32, p: 16 } }),
      JSON.stringify({ ...JSON.parse(good), kdf: { ...JSON.parse(good).kdf, N: 1024 } }),
    ];
    for (const content of cases) {
      await writeFile(path, content);
      await expectKeystoreError(FileKeystore.open(path, "pw"), "keystore_corrupt");
    }
  });

  test("missing file is keystore_missing; existing file is keystore_exists", async () => {
    await expectKeystoreError(FileKeystore.open(path, "pw"), "keystore_missing");
    await FileKeystore.create(path, "pw", state);
    await expectKeystoreError(FileKeystore.create(path, "other", { evil: true }), "keystore_exists");
    expect((await FileKeystore.open(path, "pw")).read()).toEqual(state);
  });

  test("overwrites are atomic: concurrent writes leave one valid file, the last one, and no temp files", async () => {
    const store = await FileKeystore.create(path, "pw", { n: 0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write({ n: i + 1 })));
    expect(store.read()).toEqual({ n: 20 });
    expect((await FileKeystore.open(path, "pw")).read()).toEqual({ n: 20 });
    expect(await readdir(join(dir, "device"))).toEqual(["keystore.json"]);
  });

  test("a value that is not JSON is refused; a removed directory is recreated", async () => {
    const store = await FileKeystore.create(path, "pw", { n: 1 });
    await expect(store.write({ n: 2n })).rejects.toThrow(TypeError); // BigInt is not JSON
    await rm(join(dir, "device"), { recursive: true });
    await store.write({ n: 3 }); // the directory is recreated
    expect((await FileKeystore.open(path, "pw")).read()).toEqual({ n: 3 });
  });

  test("a concurrent reader never sees a torn file", async () => {
    const store = await FileKeystore.create(path, "pw", { n: 0 });
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
    expect((await FileKeystore.open(path, "pw")).read()).toMatchObject({ n: 3 });
  });

  test("a writer killed with SIGKILL mid-write leaves a valid file holding its last acknowledged write", async () => {
    await FileKeystore.create(path, "pw", { n: 0 });
    const module = fileURLToPath(new URL("./file-keystore.ts", import.meta.url));
    // Big values so the kill very likely lands inside a write, not between two.
    const writer = `const { FileKeystore } = await import(process.argv[1]);
      const store = await FileKeystore.open(process.argv[2], "pw");
      const pad = "x".repeat(1 << 18);
      for (let n = 1; ; n++) { await store.write({ n, pad }); process.stdout.write(n + "\\n"); }`;
    const args = ["--import", "tsx", "--input-type=module", "-e", writer, module, path];
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
    const { n } = (await FileKeystore.open(path, "pw")).read() as { n: number };
    expect(n).toBeGreaterThanOrEqual(acknowledged);
    expect(n).toBeLessThanOrEqual(acknowledged + 1);
  });
});
