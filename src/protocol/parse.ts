import type { z } from "zod";
import { ValidationError } from "./errors.js";

/**
 * The only way to turn outside data into a typed value. It takes `unknown` on purpose, so an
 * already-typed value cannot skip validation, and its error names every failing path.
 */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what = "input"): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map(
    (i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`,
  );
  throw new ValidationError(what, issues);
}

export function safeParse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what = "input",
): { ok: true; value: z.output<S> } | { ok: false; error: ValidationError } {
  try {
    return { ok: true, value: parse(schema, input, what) };
  } catch (error) {
    return { ok: false, error: error as ValidationError };
  }
}
