export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const pluralRules = new Intl.PluralRules("en");

/** "1 device", "2 devices", "1 caucus", "3 caucuses": the count with its noun in the right number. */
export function plural(n: number, one: string, other: string): string {
  return `${n} ${pluralRules.select(n) === "one" ? one : other}`;
}
