/** Why `raw` is not a NATS server URL (nats://host[:port]), or undefined when it is one. */
export function natsUrlProblem(raw: string): string | undefined {
  const example = "such as nats://127.0.0.1:4222";
  if (!URL.canParse(raw)) return `"${raw}" is not a URL ${example}`;
  const url = new URL(raw);
  if (url.protocol !== "nats:") return `"${redactedNatsUrl(raw)}" is not a nats:// URL ${example}`;
  if (url.hostname === "") return `"${redactedNatsUrl(raw)}" names no host; use a URL ${example}`;
  if (url.pathname.replace(/^\/$/, "") !== "" || url.search !== "" || url.hash !== "")
    return `"${redactedNatsUrl(raw)}" has a path or query; use a URL ${example}`;
  return undefined;
}

/** The URL without its password, for messages and logs. */
export function redactedNatsUrl(raw: string): string {
  if (!URL.canParse(raw)) return raw;
  const url = new URL(raw);
  if (url.password !== "") url.password = "***";
  return url.toString();
}
