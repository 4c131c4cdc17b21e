import type { Pool } from "pg";
import type { BlobDownload } from "../../../protocol/index.js";
import { checkBlob, exactly } from "../blob-rules.js";
import type { PutBlobInput } from "../storage.js";
import { readCaucus } from "./reads.js";
import { changed, firstRow, lockCaucuses, rows, transaction } from "./transaction.js";

/** One row of blob_chunks: a blob is stored (and read back) this many bytes at a time. */
const ROW_BYTES = 1024 * 1024;

/** Storage.putBlob on PostgreSQL: reserve (counted against the quota), stream in rows, complete. */
export async function putBlob(pool: Pool, input: PutBlobInput): Promise<void> {
  await transaction(pool, async (db) => {
    await lockCaucuses(db, [input.caucusId]);
    const stored = await firstRow<{ caucus: string; channel: string }>(
      db,
      `SELECT c.ciphertext_bytes AS caucus,
              (SELECT sum(x.ciphertext_bytes) FROM caucuses x WHERE x.channel_id = c.channel_id) AS channel
       FROM caucuses c WHERE c.caucus_id = $1`,
      [input.caucusId],
    );
    const exists = await firstRow(db, "SELECT 1 FROM blobs WHERE blob_id = $1", [input.blobId]);
    const caucus = checkBlob(input, await readCaucus(db, input.caucusId), exists !== undefined, () => ({
      caucus: Number(stored?.caucus ?? 0),
      channel: Number(stored?.channel ?? 0),
    }));
    await db.query("INSERT INTO blobs (blob_id, caucus_id, bytes, after_seq) VALUES ($1, $2, $3, $4)", [
      input.blobId,
      input.caucusId,
      input.bytes,
      caucus.head.seq,
    ]);
    await countBytes(db, input.caucusId, input.bytes);
  });
  try {
    let n = 0;
    let held: Uint8Array[] = [];
    let size = 0;
    const flush = async () => {
      await pool.query("INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3)", [
        input.blobId,
        n++,
        Buffer.concat(held),
      ]);
      held = [];
      size = 0;
    };
    for await (const chunk of exactly(input.body, input.bytes)) {
      held.push(chunk);
      size += chunk.length;
      if (size >= ROW_BYTES) await flush();
    }
    if (size > 0) await flush();
    await pool.query("UPDATE blobs SET complete = true WHERE blob_id = $1", [input.blobId]);
  } catch (error) {
    await transaction(pool, async (db) => {
      if ((await changed(db, "DELETE FROM blobs WHERE blob_id = $1", [input.blobId])) > 0)
        await countBytes(db, input.caucusId, -input.bytes);
    });
    throw error;
  }
}

const countBytes = (db: Parameters<typeof changed>[0], caucusId: string, bytes: number) =>
  changed(db, "UPDATE caucuses SET ciphertext_bytes = ciphertext_bytes + $1 WHERE caucus_id = $2", [
    bytes,
    caucusId,
  ]);

/** Storage.openBlob on PostgreSQL: one row in memory at a time. */
export async function openBlob(
  pool: Pool,
  caucusId: string,
  blobId: string,
): Promise<BlobDownload | undefined> {
  const row = await firstRow<{ bytes: string }>(
    pool,
    "SELECT bytes FROM blobs WHERE blob_id = $1 AND caucus_id = $2 AND complete",
    [blobId, caucusId],
  );
  if (!row) return undefined;
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let n = 0; ; n++) {
      const r = await firstRow<{ data: Buffer }>(
        pool,
        "SELECT data FROM blob_chunks WHERE blob_id = $1 AND n = $2",
        [blobId, n],
      );
      if (!r) return;
      yield r.data;
    }
  }
  return { bytes: Number(row.bytes), body: body() };
}

/** Deletes the blobs retention or a closed channel made due (their rows go with them). */
export async function sweepBlobs(pool: Pool): Promise<number> {
  const gone = await rows<{ caucus_id: string; bytes: string }>(
    pool,
    `WITH gone AS (
       DELETE FROM blobs b USING caucuses c
       WHERE c.caucus_id = b.caucus_id AND b.complete AND b.after_seq < c.deleted_through
       RETURNING b.caucus_id, b.bytes)
     SELECT caucus_id, sum(bytes)::bigint AS bytes FROM gone GROUP BY caucus_id`,
  );
  for (const g of gone) await countBytes(pool, g.caucus_id, -Number(g.bytes));
  return gone.length;
}
