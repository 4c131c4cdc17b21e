import Database from "better-sqlite3";
import { genesisHash, linkHash } from "../../src/protocol/index.js";

export interface EventRow {
  seq: number;
  event_id: string;
  sender_device_id: string;
  kind: string;
  epoch: number;
  ciphertext: Buffer;
  hash: string;
}

/**
 * The attacker's handle on the relay's database: changes made directly in SQLite, on a second
 * connection, while the relay keeps serving (WAL allows it, and the relay reads events from the
 * database on every request).
 */
export class ServerDatabase {
  constructor(private readonly file: string) {}

  protected with<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(this.file);
    try {
      db.pragma("busy_timeout = 5000");
      return db.transaction(() => fn(db)).immediate();
    } finally {
      db.close();
    }
  }

  rows(caucusId: string): EventRow[] {
    return this.with(
      (db) =>
        db
          .prepare(
            `SELECT seq, event_id, sender_device_id, kind, epoch, ciphertext, hash
             FROM events WHERE caucus_id = ? ORDER BY seq`,
          )
          .all(caucusId) as EventRow[],
    );
  }

  row(caucusId: string, seq: number): EventRow {
    const r = this.rows(caucusId).find((x) => x.seq === seq);
    if (!r) throw new Error(`no event #${seq}`);
    return r;
  }

  /** Flips the last byte of an event's ciphertext (inside the MLS AEAD tag); the stored hash is kept. */
  flipCiphertextByte(caucusId: string, seq: number): void {
    const bytes = Buffer.from(this.row(caucusId, seq).ciphertext);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
    this.setCiphertext(caucusId, seq, bytes);
  }

  setCiphertext(caucusId: string, seq: number, ciphertext: Buffer): void {
    this.with((db) =>
      db
        .prepare("UPDATE events SET ciphertext = ? WHERE caucus_id = ? AND seq = ?")
        .run(ciphertext, caucusId, seq),
    );
  }

  deleteEvent(caucusId: string, seq: number): void {
    const { changes } = this.with((db) =>
      db.prepare("DELETE FROM events WHERE caucus_id = ? AND seq = ?").run(caucusId, seq),
    );
    if (changes !== 1) throw new Error(`no event #${seq} in caucus ${caucusId}`);
  }

  insertEvent(caucusId: string, r: EventRow): void {
    this.with((db) =>
      db
        .prepare(
          `INSERT INTO events (caucus_id, seq, event_id, sender_device_id, kind, epoch, ciphertext, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(caucusId, r.seq, r.event_id, r.sender_device_id, r.kind, r.epoch, r.ciphertext, r.hash),
    );
  }

  /** Exchanges the positions of two events (the primary key is (caucus_id, seq), hence the detour). */
  swapSeq(caucusId: string, a: number, b: number): void {
    this.with((db) => {
      const move = db.prepare("UPDATE events SET seq = ? WHERE caucus_id = ? AND seq = ?");
      move.run(1_000_000, caucusId, a);
      move.run(a, caucusId, b);
      move.run(b, caucusId, 1_000_000);
    });
  }

  /** Rewrites an invite's expiry or revocation, as a relay that wants someone admitted would. */
  setInvite(inviteId: string, change: { expiresAt?: number; revoked?: boolean }): void {
    this.with((db) => {
      if (change.expiresAt !== undefined)
        db.prepare("UPDATE invites SET expires_at = ? WHERE invite_id = ?").run(change.expiresAt, inviteId);
      if (change.revoked !== undefined)
        db.prepare("UPDATE invites SET revoked = ? WHERE invite_id = ?").run(
          change.revoked ? 1 : 0,
          inviteId,
        );
    });
  }

  /** Moves the caucus head back, as if later events had never been appended. */
  setHead(caucusId: string, seq: number): void {
    this.with((db) => {
      const hash =
        seq === 0
          ? genesisHash(caucusId)
          : (
              db.prepare("SELECT hash FROM events WHERE caucus_id = ? AND seq = ?").get(caucusId, seq) as {
                hash: string;
              }
            ).hash;
      db.prepare("UPDATE caucuses SET head_seq = ?, head_hash = ? WHERE caucus_id = ?").run(
        seq,
        hash,
        caucusId,
      );
    });
  }

  /**
   * Recomputes the stored hash chain from `fromSeq` to the end, and the caucus head, exactly as the
   * relay would have: afterwards the server's view is self-consistent, so only the devices' own
   * memory (earlier hashes, the `seen` head inside each encrypted payload, MLS) can catch the change.
   */
  rehashFrom(caucusId: string, fromSeq: number): void {
    this.with((db) => {
      const rows = db
        .prepare(
          `SELECT seq, event_id, sender_device_id, kind, epoch, ciphertext, hash
           FROM events WHERE caucus_id = ? ORDER BY seq`,
        )
        .all(caucusId) as EventRow[];
      const update = db.prepare("UPDATE events SET hash = ? WHERE caucus_id = ? AND seq = ?");
      let prev = genesisHash(caucusId);
      let head = { seq: 0, hash: prev };
      for (const r of rows) {
        let hash = r.hash;
        if (r.seq >= fromSeq) {
          hash = linkHash(prev, {
            caucusId,
            seq: r.seq,
            eventId: r.event_id,
            senderDeviceId: r.sender_device_id,
            kind: r.kind,
            epoch: r.epoch,
            ciphertext: r.ciphertext.toString("base64url"),
          });
          update.run(hash, caucusId, r.seq);
        }
        prev = hash;
        head = { seq: r.seq, hash };
      }
      db.prepare("UPDATE caucuses SET head_seq = ?, head_hash = ? WHERE caucus_id = ?").run(
        head.seq,
        head.hash,
        caucusId,
      );
    });
  }
}
