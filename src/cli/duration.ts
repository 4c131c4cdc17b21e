import { InvalidArgumentError } from "@commander-js/extra-typings";

const units = { m: 60_000, h: 60 * 60_000, d: 24 * 60 * 60_000 } as const;

/** Option parser for a duration such as `30m`, `24h` or `7d`: milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+)\s*([mhd])$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0)
    throw new InvalidArgumentError("a duration such as 30m, 24h or 7d (minutes, hours, days)");
  return Number(m[1]) * units[m[2] as keyof typeof units];
}
