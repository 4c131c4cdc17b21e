import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { signalKindWords, type EntryView } from "../../sdk/index.js";
import { plural } from "./words.js";

/**
 * What the user has read, per caucus: the highest #seq seen when they last worked in it. Kept in
 * this browser's localStorage under the device's id (a mark says nothing the device's own store
 * does not); a browser that refuses storage keeps the marks for the page's life only.
 */
export class ReadMarks {
  private marks: Record<string, number>;
  private version = 0;
  private readonly listeners = new Set<() => void>();
  private readonly key: string;

  constructor(deviceId: string) {
    this.key = `backchannel.read.${deviceId}`;
    let stored: unknown;
    try {
      stored = JSON.parse(localStorage.getItem(this.key) ?? "{}");
    } catch {
      stored = {};
    }
    this.marks = {};
    if (stored && typeof stored === "object")
      for (const [k, v] of Object.entries(stored)) if (typeof v === "number") this.marks[k] = v;
  }

  readUpTo(caucusId: string): number {
    return this.marks[caucusId] ?? 0;
  }

  mark(caucusId: string, seq: number): void {
    if (seq <= this.readUpTo(caucusId)) return;
    this.marks = { ...this.marks, [caucusId]: seq };
    this.version++;
    try {
      localStorage.setItem(this.key, JSON.stringify(this.marks));
    } catch {
      // Storage refused: the marks last as long as the page.
    }
    for (const l of this.listeners) l();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;
}

export const ReadMarksContext = createContext<ReadMarks | undefined>(undefined);

/** The events someone else sent that count as news (not re-keyings, not heartbeats). */
function news(views: readonly EntryView[], selfDeviceId: string): EntryView[] {
  return views.filter(
    (v) => v.entry.senderDeviceId !== selfDeviceId && !v.entry.membership && v.body?.type !== "heartbeat",
  );
}

export function unreadCount(views: readonly EntryView[], selfDeviceId: string, readUpTo: number): number {
  return news(views, selfDeviceId).filter((v) => v.entry.seq > readUpTo).length;
}

const noMarks = { subscribe: () => () => undefined, getVersion: () => 0 };

/** Re-renders when any read mark changes. */
export function useReadMarks(marks: ReadMarks | undefined): void {
  const m = marks ?? noMarks;
  useSyncExternalStore(m.subscribe, m.getVersion, m.getVersion);
}

/**
 * A caucus's unread count, and the handlers that mark it read: working in it (a click, a key, the
 * focus arriving anywhere inside) means its events were seen.
 */
export function useUnread(caucusId: string, views: readonly EntryView[], selfDeviceId: string) {
  const marks = useContext(ReadMarksContext);
  useReadMarks(marks);
  const last = views.at(-1)?.entry.seq ?? 0;
  const unread = marks ? unreadCount(views, selfDeviceId, marks.readUpTo(caucusId)) : 0;
  const markRead = () => marks?.mark(caucusId, last);
  return { unread, markRead, readProps: { onFocus: markRead, onPointerDown: markRead } };
}

export function UnreadBadge({ count }: { count: number }) {
  return count ? (
    <span className="unread-badge">{plural(count, "unread event", "unread events")}</span>
  ) : null;
}

/** "(3) Backchannel": the unread total in the tab's title, as mail and chat apps show it. */
export function useTitleBadge(total: number): void {
  useEffect(() => {
    const base = document.title.replace(/^\(\d+\) /, "");
    document.title = total ? `(${total}) ${base}` : base;
  }, [total]);
}

function describe(v: EntryView): string {
  const b = v.body;
  if (v.entry.skipped) return "a message that could not be read";
  if (!b) return "an event";
  switch (b.type) {
    case "signal":
      return signalKindWords[b.signalKind].toLowerCase();
    case "understanding_proposal":
      return "a proposed understanding";
    case "understanding_reached":
      return "an understanding reached";
    case "channel_info":
      return "the channel's details";
    default:
      return `a ${b.type.replace(/_/g, " ")}`;
  }
}

/**
 * A polite live region that says what arrives (screen readers announce it when the reader pauses):
 * "New in A's caucus: #5, notification of intent". What was there when the page opened is not
 * announced, only what arrives while it is open.
 */
export function Arrivals({
  caucuses,
  selfDeviceId,
}: {
  caucuses: readonly { caucusId: string; label: string; views: readonly EntryView[] }[];
  selfDeviceId: string;
}) {
  const seen = useRef<Map<string, number> | undefined>(undefined);
  const [message, setMessage] = useState("");
  useEffect(() => {
    const first = !seen.current;
    const known = (seen.current ??= new Map<string, number>());
    const lines: string[] = [];
    for (const c of caucuses) {
      const upTo = known.get(c.caucusId);
      const fresh = news(c.views, selfDeviceId).filter((v) => upTo !== undefined && v.entry.seq > upTo);
      known.set(c.caucusId, c.views.at(-1)?.entry.seq ?? 0);
      if (!first && fresh.length)
        lines.push(`New in ${c.label}: ${fresh.map((v) => `#${v.entry.seq}, ${describe(v)}`).join("; ")}.`);
    }
    if (lines.length) setMessage(lines.join(" "));
  }, [caucuses, selfDeviceId]);
  return (
    <div className="visually-hidden" role="log" aria-live="polite" aria-label="Arriving events">
      {message}
    </div>
  );
}
