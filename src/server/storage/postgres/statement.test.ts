import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inline, type Statement } from "./statement.js";
import { testDatabaseUrl } from "./test-helpers.js";

describe("inline: a statement's values written in as literals", () => {
  let db: Client;
  beforeAll(async () => {
    db = new Client({ connectionString: testDatabaseUrl });
    await db.connect();
  });
  afterAll(() => db?.end());

  const hostile = ["it's", "back\\slash\\'", "$1 $2", "'; DROP TABLE x; --", "ünï\u00a0cödé", ""];

  it("reads back exactly what the same statement with parameters reads", async () => {
    for (const value of hostile) {
      const bytes = Buffer.from(`\\x00'${value}`, "utf8");
      const statement: Statement = {
        text: `SELECT $1::text AS text, $2::bigint AS n, $3::text[] AS list, $4::text[] AS none,
                      $5::bytea AS bytes, $6::text AS nothing, $7::boolean AS yes, $8::boolean AS no`,
        values: [value, -9007199254740991, hostile, [], bytes, null, true, false],
      };
      const withParameters = (await db.query(statement)).rows;
      expect(withParameters).toEqual([
        {
          text: value,
          n: "-9007199254740991",
          list: hostile,
          none: [],
          bytes,
          nothing: null,
          yes: true,
          no: false,
        },
      ]);
      // Whatever the server makes of backslashes in ordinary string literals.
      for (const setting of ["on", "off"]) {
        await db.query(`SET standard_conforming_strings = ${setting}`);
        expect((await db.query(inline(statement))).rows).toEqual(withParameters);
      }
      await db.query("RESET standard_conforming_strings");
    }
  });

  it("refuses what it cannot write exactly: a missing value, a number that is no safe integer", () => {
    expect(() => inline({ text: "SELECT $1, $2", values: ["a"] })).toThrow(/no value/);
    expect(() => inline({ text: "SELECT $1", values: [0.5] })).toThrow(/not an integer/);
    expect(() => inline({ text: "SELECT $1", values: [2 ** 53] })).toThrow(/not an integer/);
  });
});
