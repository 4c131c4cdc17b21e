import { escapeLiteral } from "pg";

/** The values our statements take: text, integers, booleans, text arrays, bytes (bytea), NULL. */
export type Value = string | number | boolean | readonly string[] | Buffer | null;

/** A statement and its parameters ($1, $2, …), as node-pg's query takes it. */
export interface Statement {
  text: string;
  values: Value[];
  /**
   * The name it is prepared under on the connection that runs it (prepared.ts): inline() then
   * writes `EXECUTE name(…)`. node-pg ignores the field and sends the text.
   */
  prepared?: string;
}

/** A statement to prepare on each connection (PREPARE name AS text; prepared.ts). */
export interface PreparedText {
  name: string;
  text: string;
}

/** The prepared statement with these values. */
export const executing = ({ name, text }: PreparedText, values: Value[]): Statement => ({
  text,
  values,
  prepared: name,
});

/**
 * The statement with its values written in as literals. node-pg sends a query without parameters
 * over the simple protocol, which takes several statements separated by semicolons in one round
 * trip (a batch's appends: group-commit.ts). Every value is escaped whatever it holds, even though
 * ours are UUIDs, hashes and base64url the routes validated. The text must not contain `$n`
 * anywhere but in its parameters (no dollar quoting).
 */
export function inline(statement: Statement | string): string {
  if (typeof statement === "string") return statement;
  const { text, values, prepared } = statement;
  if (prepared !== undefined)
    return values.length === 0
      ? `EXECUTE ${prepared}`
      : `EXECUTE ${prepared}(${values.map(literal).join(", ")})`;
  return text.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1]));
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
  // Typed here: ARRAY[] alone has none, and EXECUTE's arguments have no cast around them.
  return `ARRAY[${value.map(escapeLiteral).join(", ")}]::text[]`;
}
