import { escapeLiteral } from "pg";

/** The values our statements take: text, integers and text arrays. */
export type Value = string | number | readonly string[];

/** A statement and its parameters ($1, $2, …), as node-pg's query takes it. */
export interface Statement {
  text: string;
  values: Value[];
}

/**
 * The statement with its values written in as literals. node-pg sends a query without parameters
 * over the simple protocol, which takes several statements separated by semicolons in one round
 * trip (BEGIN with the locks and the first read of a batch: group-commit.ts). Every value is
 * escaped whatever it holds, even though ours are UUIDs and hashes the routes validated. The text
 * must not contain `$n` anywhere but in its parameters (no dollar quoting).
 */
export function inline({ text, values }: Statement): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1]));
}

function literal(value: Value | undefined): string {
  if (typeof value === "string") return escapeLiteral(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`${value} is not an integer to write into SQL`);
    return String(value);
  }
  if (value === undefined) throw new Error("a statement's parameter has no value");
  // ARRAY[] alone has no type: the statement casts it ($n::text[]).
  return `ARRAY[${value.map(escapeLiteral).join(", ")}]`;
}
