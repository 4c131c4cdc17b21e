import { Pool } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { executing, type PreparedText } from "./statement.js";
import { testDatabaseUrl } from "./test-helpers.js";
import { together, transactionAround } from "./transaction.js";

describe("statements prepared per connection, run by name in one round trip", () => {
  let pool: Pool;
  beforeEach(() => {
    pool = new Pool({ connectionString: testDatabaseUrl, max: 1 });
  });
  afterEach(() => pool?.end());

  const pair: PreparedText = { name: "bc_test_pair", text: "SELECT $1::text AS a, $2::text[] AS b" };
  const broken: PreparedText = { name: "bc_test_broken", text: "SELECT FROM no_such_table_anywhere" };

  it("runs as EXECUTE with the values written in, and reads what the text with parameters reads", async () => {
    const statement = executing(pair, ["it's", ["x", "y\\"]]);
    const read = await transactionAround(
      pool,
      { prepare: [pair], first: [statement] },
      async (db, opened) => ({
        value: { opened, again: await together(db, [statement]) },
        last: [statement],
      }),
    );
    const expected = (await pool.query(statement)).rows;
    expect(expected).toEqual([{ a: "it's", b: ["x", "y\\"] }]);
    expect(read).toEqual({ opened: expected, again: expected });
    // Once per connection: the second transaction on it does not PREPARE again (that would fail).
    const second = await transactionAround(pool, { prepare: [pair], first: [statement] }, (_, opened) =>
      Promise.resolve({ value: opened, last: [] }),
    );
    expect(second).toEqual(expected);
  });

  it("a connection whose preparing failed is dropped, not handed out again half prepared", async () => {
    const body = () => Promise.resolve({ value: "ran", last: [] });
    await expect(transactionAround(pool, { prepare: [pair, broken] }, body)).rejects.toThrow(/no_such_table/);
    // Had the connection gone back to the pool, bc_test_pair would already exist on it.
    expect(await transactionAround(pool, { prepare: [pair] }, body)).toBe("ran");
    expect(pool.totalCount).toBe(1);
  });
});
