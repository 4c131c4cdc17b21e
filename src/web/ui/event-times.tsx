import { useSyncExternalStore } from "react";
import type { TranscriptEntry } from "../../sdk/index.js";

// One timer for every time on the page: relative times ("3 minutes ago") move on by themselves.
let tick = 0;
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;
function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  timer ??= setInterval(() => {
    tick++;
    for (const l of listeners) l();
  }, 30_000);
  return () => {
    listeners.delete(listener);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
// The reader's own time zone and locale: what the browser says they are.
const absoluteFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

const steps: [Intl.RelativeTimeFormatUnit, number][] = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 7],
  ["week", 4.35],
  ["month", 12],
  ["year", Infinity],
];

export function relativeTime(ms: number, now: number): string {
  let value = (ms - now) / 1000;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size)
      return relativeFormat.format(unit === "second" && Math.abs(value) < 45 ? 0 : Math.round(value), unit);
    value /= size;
  }
  return absoluteFormat.format(ms);
}

/** A moment as a <time>: relative in the text, absolute (the reader's time zone) in its title. */
export function Moment({ iso }: { iso: string }) {
  useSyncExternalStore(
    subscribe,
    () => tick,
    () => tick,
  );
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return <time>{iso}</time>;
  const absolute = absoluteFormat.format(ms);
  return (
    <time dateTime={iso} title={absolute}>
      {relativeTime(ms, Date.now())}
    </time>
  );
}

/**
 * When an event was sent (its sender's clock, signed inside the ciphertext) and when this device
 * received it (its own clock). The relay's clock is never shown: it is not the relay's story.
 */
export function EventTimes({ entry }: { entry: TranscriptEntry }) {
  const sentAt = entry.payload?.sentAt ?? entry.burnt?.sentAt;
  const { receivedAt } = entry;
  if (!sentAt && !receivedAt) return null;
  return (
    <p className="event-times">
      {sentAt && (
        <>
          Sent <Moment iso={sentAt} />
        </>
      )}
      {sentAt && receivedAt && " · "}
      {receivedAt && (
        <>
          {sentAt ? "received" : "Received"} <Moment iso={receivedAt} />
        </>
      )}
    </p>
  );
}
