/**
 * Canonical JSON: object keys sorted, no whitespace, no undefined. Everything we sign or hash
 * goes through this so two implementations agree byte for byte.
 */
export type Canonical =
  string | number | boolean | null | Canonical[] | { [k: string]: Canonical | undefined };

export function canonicalJson(value: Canonical): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("non-finite number");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Canonical)}`).join(",")}}`;
}
