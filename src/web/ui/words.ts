import type { Attribution, Disclosure, SignalKind } from "../../protocol/index.js";

export const signalKindWords: Record<SignalKind, string> = {
  notification_of_intent: "Notification of intent",
  reply: "Reply",
  question: "Question",
  personal_message: "Personal message",
};

export const disclosureWords: Record<Disclosure, string> = {
  verbatim: "may be conveyed verbatim",
  substance: "substance only",
  mediator_only: "mediator only",
};

export const attributionWords: Record<Attribution, string> = {
  party: "named",
  anonymous: "anonymous (“a party”)",
};

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
