import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Crash-safe replacement of a small secret file: after a crash (kill -9, power loss) at any
 * point, the path holds either the old bytes or the new ones, never a torn mix, and never a
 * copy readable by other users. The temp file sits in the same directory so rename() stays
 * atomic (no cross-device move), and is created 0600 from the start, never widened later.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await commit(path, data, (tmp) => rename(tmp, path));
}

/**
 * Like writeFileAtomic but refuses to replace an existing file (returns false). The hard link
 * makes "check and create" one atomic step, so two processes setting up the same device cannot
 * both win and one silently overwrite the other's fresh keys.
 */
export async function createFileExclusive(path: string, data: string | Uint8Array): Promise<boolean> {
  let created = true;
  await commit(path, data, async (tmp) => {
    try {
      await link(tmp, path);
    } catch (error) {
      if (errno(error) === "EEXIST") {
        created = false;
        return;
      }
      // Some filesystems (FAT, some FUSE and network mounts) have no hard links; fall back to
      // check-then-rename, whose race window only matters for two concurrent set-ups.
      if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"].includes(errno(error) ?? "")) throw error;
      if (await exists(path)) {
        created = false;
        return;
      }
      await rename(tmp, path);
    }
  });
  return created;
}

/** Writes, fsyncs and closes a 0600 temp file, hands it to `place`, then removes any leftover. */
async function commit(path: string, data: string | Uint8Array, place: (tmp: string) => Promise<void>) {
  const dir = dirname(path);
  // 0700 only for directories we create; an existing directory (a home folder) is not ours.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(8).toString("hex")}.tmp`);
  try {
    const file = await open(tmp, "wx", 0o600);
    try {
      // The umask can only narrow the mode; chmod makes 0600 hold whatever it is.
      await file.chmod(0o600);
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await place(tmp);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable: without it a crash can bring back the old directory entry. */
async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errno(error) === "ENOENT") return false;
    throw error;
  }
}

export function errno(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}
