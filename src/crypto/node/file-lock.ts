import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { errno } from "./atomic-file.js";

/**
 * A lock beside a file (`<path>.lock`) that lets one process at a time change it. The keystore
 * needs it because two processes of one device are normal (the CLI's `watch` in one terminal,
 * `send` in another) and its appends are chained: two records appended at once would claim the
 * same place in the chain, and the file would no longer open. Held for one append or one
 * rewrite, so milliseconds; readers never take it.
 *
 * The lock file is created exclusively ("wx") and names its holder ("pid host nonce"). A holder
 * that died holding it (kill -9, power loss) leaves it behind: on the same host it is broken as
 * soon as that pid is gone; from another host (a home on a network share) after STALE_MS.
 * The race left: two processes that find the same stale lock at the same instant may both break
 * it and one may remove the other's fresh lock; both conditions together (a holder killed inside
 * its few milliseconds, and two writers waiting on it) are what it would take.
 */
const STALE_MS = 30_000;
// A lock file is created, then its holder's name written into it: empty for longer than this,
// its creator died in between.
const EMPTY_STALE_MS = 2_000;
const MAX_WAIT_STEP_MS = 50;

export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const release = await acquire(`${path}.lock`);
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function acquire(lockPath: string): Promise<() => Promise<void>> {
  const mine = `${process.pid} ${hostname()} ${randomBytes(8).toString("hex")}`;
  for (let wait = 1; ; wait = Math.min(wait * 2, MAX_WAIT_STEP_MS)) {
    try {
      const handle = await open(lockPath, "wx", 0o600);
      try {
        await handle.writeFile(mine);
      } finally {
        await handle.close();
      }
      return async () => {
        // Only our own: had we been judged stale, the file may now be another holder's.
        if ((await readText(lockPath)) === mine) await unlink(lockPath).catch(ignoreMissing);
      };
    } catch (error) {
      if (errno(error) === "ENOENT") {
        // The directory is gone (removed under a running process): the file will be rewritten in
        // full there, as writeFileAtomic recreates it.
        await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });
        continue;
      }
      if (errno(error) !== "EEXIST") throw error;
    }
    const held = await readText(lockPath);
    if (held === undefined) continue; // released meanwhile
    if (await stale(lockPath, held)) {
      // Remove it only if it still names the holder we judged dead.
      if ((await readText(lockPath)) === held) await unlink(lockPath).catch(ignoreMissing);
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function stale(lockPath: string, held: string): Promise<boolean> {
  let age: number;
  try {
    age = Date.now() - (await stat(lockPath)).mtimeMs;
  } catch (error) {
    if (errno(error) === "ENOENT") return false; // released meanwhile: just try again
    throw error;
  }
  if (held === "") return age > EMPTY_STALE_MS;
  const [pid, host] = held.split(" ");
  const holder = Number(pid);
  if (host === hostname() && Number.isSafeInteger(holder) && holder > 0) return !alive(holder);
  return age > STALE_MS;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) !== "ESRCH"; // EPERM: alive, another user's
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw error;
  }
}

function ignoreMissing(error: unknown): void {
  if (errno(error) !== "ENOENT") throw error;
}
