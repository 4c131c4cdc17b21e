import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Database from "better-sqlite3";
import type { BlobDownload } from "../../../protocol/index.js";
import { checkBlob, exactly } from "../blob-rules.js";
import type { PutBlobInput } from "../storage.js";
import { readCaucus } from "./reads.js";
import type { Statements } from "./statements.js";

/** Where a data dir keeps its blobs; an in-memory database keeps them in a temporary directory. */
export function blobDirectory(dataDir: string | undefined): string {
  if (dataDir === undefined) return mkdtempSync(join(tmpdir(), "backchannel-blobs-"));
  const dir = join(dataDir, "blobs");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * SQLite's blobs: each one a file `<dir>/<blobId>` (written as `.part`, renamed once complete),
 * and a row in `blobs` saying whose it is. better-sqlite3 is synchronous: the file is written
 * between two transactions, never inside one.
 */
export function prepareBlobs(db: Database.Database, stmt: Statements, dir: string) {
  const exists = db.prepare("SELECT 1 FROM blobs WHERE blob_id = ?").pluck();
  const insert = db.prepare(
    "INSERT INTO blobs (blob_id, caucus_id, bytes, after_seq, complete) VALUES (?, ?, ?, ?, 0)",
  );
  const count = db.prepare("UPDATE caucuses SET ciphertext_bytes = ciphertext_bytes + ? WHERE caucus_id = ?");
  const complete = db.prepare("UPDATE blobs SET complete = 1 WHERE blob_id = ?");
  const drop = db.prepare("DELETE FROM blobs WHERE blob_id = ?");
  const find = db.prepare("SELECT bytes FROM blobs WHERE blob_id = ? AND caucus_id = ? AND complete = 1");
  const due = db.prepare(
    `SELECT b.blob_id, b.caucus_id, b.bytes FROM blobs b JOIN caucuses c ON c.caucus_id = b.caucus_id
     WHERE b.complete = 1 AND b.after_seq < c.deleted_through`,
  );
  const file = (blobId: string) => join(dir, blobId);

  const reserve = db.transaction((input: PutBlobInput) => {
    const caucus = checkBlob(
      input,
      readCaucus(stmt, input.caucusId),
      exists.get(input.blobId) !== undefined,
      () => stmt.storedBytes.get(input.caucusId) as { caucus: number; channel: number },
    );
    insert.run(input.blobId, input.caucusId, input.bytes, caucus.head.seq);
    count.run(input.bytes, input.caucusId);
  });
  const release = db.transaction((input: PutBlobInput) => {
    if (drop.run(input.blobId).changes > 0) count.run(-input.bytes, input.caucusId);
  });
  const sweep = db.transaction(() => {
    const rows = due.all() as { blob_id: string; caucus_id: string; bytes: number }[];
    for (const r of rows) {
      drop.run(r.blob_id);
      count.run(-r.bytes, r.caucus_id);
    }
    return rows.map((r) => r.blob_id);
  });

  return {
    async put(input: PutBlobInput): Promise<void> {
      reserve.immediate(input);
      const part = `${file(input.blobId)}.part`;
      try {
        await pipeline(
          Readable.from(exactly(input.body, input.bytes)),
          createWriteStream(part, { flags: "wx", mode: 0o600, flush: true }),
        );
        await rename(part, file(input.blobId));
        complete.run(input.blobId);
      } catch (error) {
        rmSync(part, { force: true });
        rmSync(file(input.blobId), { force: true });
        release.immediate(input);
        throw error;
      }
    },

    open(caucusId: string, blobId: string): BlobDownload | undefined {
      const row = find.get(blobId, caucusId) as { bytes: number } | undefined;
      return row && { bytes: row.bytes, body: createReadStream(file(blobId)) };
    },

    /** Deletes the blobs retention or a closed channel made due (rows first, then files). */
    sweep(): number {
      const gone = sweep.immediate();
      for (const blobId of gone) rmSync(file(blobId), { force: true });
      return gone.length;
    },
  };
}
