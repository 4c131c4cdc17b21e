import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.js";

/**
 * A second connection to the same WAL file sees only what was committed: how these tests tell one
 * transaction for a batch from one per write, and an answer given before its commit.
 */
describe("group commit", () => {
  let dir: string;
  let db: Database.Database;
  let reader: Database.Database;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "backchannel-group-commit-"));
    db = new Database(join(dir, "g.sqlite"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
    reader = new Database(join(dir, "g.sqlite"), { readonly: true });
  });
  afterEach(async () => {
    reader.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const committed = () =>
    (reader.prepare("SELECT k FROM t ORDER BY rowid").all() as { k: string }[]).map((r) => r.k);

  /** Inserts k; a k starting with "bad" is refused after its insert. Records what was committed meanwhile. */
  function inserter(maxBatch?: number) {
    const seenCommitted: number[] = [];
    const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
    const count = db.prepare("SELECT COUNT(*) AS n FROM t");
    const g = new GroupCommit(
      db,
      (k: string) => {
        insert.run(k);
        seenCommitted.push(committed().length);
        if (k.startsWith("bad")) throw new Error(`refused ${k}`);
        return (count.get() as { n: number }).n;
      },
      maxBatch,
    );
    return { g, seenCommitted };
  }

  it("commits writes submitted together in one transaction, in order, and answers after the commit", async () => {
    const { g, seenCommitted } = inserter();
    const answers = await Promise.all(
      ["a", "b", "c"].map((k) =>
        g.submit(k).then((n) => {
          expect(committed()).toEqual(["a", "b", "c"]);
          return n;
        }),
      ),
    );
    // Each write saw the ones before it in the batch; none was visible outside before the commit.
    expect(answers).toEqual([1, 2, 3]);
    expect(seenCommitted).toEqual([0, 0, 0]);
  });

  it("rolls back and rejects only the write that failed", async () => {
    const { g } = inserter();
    const results = await Promise.allSettled(["a", "bad", "b"].map((k) => g.submit(k)));
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual([
      1,
      "refused bad",
      2,
    ]);
    expect(committed()).toEqual(["a", "b"]);
  });

  it("rejects the whole batch when its transaction is lost, and carries on", async () => {
    const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
    const g = new GroupCommit(db, (k: string) => {
      insert.run(k);
      // What SQLite does on some I/O errors: the transaction is rolled back under the writer.
      if (k === "lost") db.exec("ROLLBACK");
      return k;
    });
    const results = await Promise.allSettled(["a", "lost", "b"].map((k) => g.submit(k)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(committed()).toEqual([]);
    expect(await g.submit("c")).toBe("c");
    expect(committed()).toEqual(["c"]);
  });

  it("caps a transaction at maxBatch writes; the rest commit in the next turn", async () => {
    const { g, seenCommitted } = inserter(2);
    expect(await Promise.all(["a", "b", "c", "d", "e"].map((k) => g.submit(k)))).toEqual([1, 2, 3, 4, 5]);
    expect(seenCommitted).toEqual([0, 0, 2, 2, 4]);
  });

  it("flush() commits what is waiting at once", async () => {
    const { g } = inserter();
    const pending = g.submit("a");
    g.flush();
    expect(committed()).toEqual(["a"]);
    expect(await pending).toBe(1);
  });
});
