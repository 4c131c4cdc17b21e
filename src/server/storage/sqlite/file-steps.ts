import { randomBytes } from "node:crypto";
import { lstat, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * The file steps a backup and a restore share, so that the final name only ever holds a
 * complete, synced, private copy: write under a temp name in the same directory (so rename is
 * atomic), fsync it, rename, fsync the directory (so the rename survives a crash).
 */

/**
 * Runs `fn` with a new, empty, 0600 temp file beside `path` (a hidden name, unique per call), and
 * afterwards removes whatever is left of it and of SQLite's files beside it: nothing remains of
 * a copy that failed, and once `fn` has put it in place the name is simply gone.
 */
export async function withTempBeside<T>(path: string, fn: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await createPrivateFile(tmp);
    return await fn(tmp);
  } finally {
    await removeFiles([tmp, ...sidecars(tmp)]);
  }
}

/** Puts the finished temp file in place under `path`: fsync, rename, fsync the directory. */
export async function putInPlace(tmp: string, path: string): Promise<void> {
  await withHandle(tmp, "r+", (h) => h.sync());
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

async function withHandle<T>(path: string, flags: string, fn: (h: FileHandle) => Promise<T>, mode?: number) {
  const handle = await open(path, flags, mode);
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

/** Creates `path` empty and 0600 (failing if it exists): never readable by others, not even briefly. */
function createPrivateFile(path: string): Promise<void> {
  // The umask can only narrow the mode; chmod makes 0600 hold whatever it is.
  return withHandle(path, "wx", (h) => h.chmod(0o600), 0o600);
}

async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform !== "win32") await withHandle(dir, "r", (h) => h.sync());
}

export function readStart(path: string, length: number): Promise<Buffer> {
  return withHandle(path, "r", async (h) => {
    const { bytesRead, buffer } = await h.read(Buffer.alloc(length), 0, length, 0);
    return buffer.subarray(0, bytesRead);
  });
}

/** The files SQLite may keep beside a database while it is open, or after a crash. */
export const sidecars = (path: string): string[] => ["-journal", "-wal", "-shm"].map((s) => `${path}${s}`);

/** Removes `paths`, those already gone included. */
export async function removeFiles(paths: readonly string[]): Promise<void> {
  for (const p of paths)
    await unlink(p).catch((error: unknown) => {
      if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) throw error;
    });
}

export async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}

/** Whether two paths name one file (through links or another spelling); false if either is missing. */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}
