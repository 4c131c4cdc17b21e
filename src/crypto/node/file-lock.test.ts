import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { withFileLock } from "./file-lock.js";

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bc-lock-"));
  path = join(dir, "keystore.json");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aLongTimeAgo = new Date(Date.now() - 3_600_000);

describe("withFileLock", () => {
  test("holders run one at a time, and leave nothing behind", async () => {
    const order: string[] = [];
    await Promise.all(
      ["a", "b", "c"].map((name) =>
        withFileLock(path, async () => {
          order.push(`${name} in`);
          await sleep(20);
          order.push(`${name} out`);
        }),
      ),
    );
    for (let i = 0; i < order.length; i += 2) expect(order[i + 1]).toBe(order[i]!.replace("in", "out"));
    expect(await readdir(dir)).toEqual([]);
  });

  test("a lock left by a dead process on this host is broken at once", async () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    await writeFile(`${path}.lock`, `${dead} ${hostname()} 0123456789abcdef`);
    expect(await withFileLock(path, () => Promise.resolve("ran"))).toBe("ran");
    expect(await readdir(dir)).toEqual([]);
  });

  test("a live holder's lock is waited for, also when another host's, until it is stale", async () => {
    await writeFile(`${path}.lock`, `1 another-host 0123456789abcdef`);
    let ran = false;
    const waiting = withFileLock(path, () => Promise.resolve((ran = true)));
    await sleep(150);
    expect(ran).toBe(false);
    await utimes(`${path}.lock`, aLongTimeAgo, aLongTimeAgo);
    await waiting;
    expect(ran).toBe(true);
  });

  test("an empty lock (its creator died before naming itself) is broken once it is old", async () => {
    await writeFile(`${path}.lock`, "");
    await utimes(`${path}.lock`, aLongTimeAgo, aLongTimeAgo);
    expect(await withFileLock(path, () => Promise.resolve(1))).toBe(1);
  });

  test("a holder's failure releases the lock", async () => {
    await expect(withFileLock(path, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await readdir(dir)).toEqual([]);
  });
});
