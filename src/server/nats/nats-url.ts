const example = "such as nats://127.0.0.1:4222";

/** Why `raw` is not a NATS server URL (nats://host[:port]), or undefined when it is one. */
export function natsUrlProblem(raw: string): string | undefined {
  const shown = `"${redactedNatsUrl(raw)}"`;
  if (!URL.canParse(raw) || new URL(raw).protocol !== "nats:")
    return `${shown} is not a nats:// URL ${example}`;
  const url = new URL(raw);
  if (url.hostname === "") return `${shown} names no host; use a URL ${example}`;
  if (!["", "/"].includes(url.pathname) || url.search !== "" || url.hash !== "")
    return `${shown} has a path or query; use a URL ${example}`;
  return undefined;
}

/** The URL without its password, for messages and logs. */
export function redactedNatsUrl(raw: string): string {
  if (!URL.canParse(raw)) return raw.replace(/\/\/[^/]*@/, "//***@");
  const url = new URL(raw);
  if (url.password !== "") url.password = "***";
  return url.toString();
}
