import { escapeLiteral } from "pg";

/** The values our statements take: text, integers, booleans, text arrays, bytes (bytea), NULL. */
export type Value = string | number | boolean | readonly string[] | Buffer | null;

/** A statement and its parameters ($1, $2, …), as node-pg's query takes it. */
export interface Statement {
  text: string;
  values: Value[];
}

/**
 * The statement with its values written in as literals. node-pg sends a query without parameters
 * over the simple protocol, which takes several statements separated by semicolons in one round
 * trip (a batch's appends: group-commit.ts). Every value is escaped whatever it holds, even though
 * ours are UUIDs, hashes and base64url the routes validated. The text must not contain `$n`
 * anywhere but in its parameters (no dollar quoting).
 */
export function inline(statement: Statement | string): string {
  if (typeof statement === "string") return statement;
  return statement.text.replace(/\$(\d+)/g, (_, n: string) => literal(statement.values[Number(n) - 1]));
}

function literal(value: Value | undefined): string {
  if (typeof value === "string") return escapeLiteral(value);
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  // Hex digits need no escaping; E'' reads the backslash alike whatever standard_conforming_strings says.
  if (Buffer.isBuffer(value)) return `E'\\\\x${value.toString("hex")}'::bytea`;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`${value} is not an integer to write into SQL`);
    return String(value);
  }
  if (value === undefined) throw new Error("a statement's parameter has no value");
  // ARRAY[] alone has no type: the statement casts it ($n::text[]).
  return `ARRAY[${value.map(escapeLiteral).join(", ")}]`;
}
