import { z } from "zod";

/**
 * The non-binding terms of a signal. Each term is "none" unless the sender states otherwise, in
 * which case it carries the sender's own words for what is offered. A stance is always present.
 */
export const stanceTerms = [
  "commitment",
  "coordination",
  "obligation",
  "guarantees",
  "timeline",
  "monitoring",
] as const;
export type StanceTerm = (typeof stanceTerms)[number];

export const stanceValue = z.union([z.literal("none"), z.string().trim().min(1).max(500)]);
export const stance = z.strictObject({
  commitment: stanceValue.default("none"),
  coordination: stanceValue.default("none"),
  obligation: stanceValue.default("none"),
  guarantees: stanceValue.default("none"),
  timeline: stanceValue.default("none"),
  monitoring: stanceValue.default("none"),
});
export type Stance = z.infer<typeof stance>;

export const noStance: Stance = {
  commitment: "none",
  coordination: "none",
  obligation: "none",
  guarantees: "none",
  timeline: "none",
  monitoring: "none",
};

const termWords: Record<StanceTerm, string> = {
  commitment: "commitment",
  coordination: "coordination",
  obligation: "obligation",
  guarantees: "guarantees",
  timeline: "timeline",
  monitoring: "monitoring or enforcement",
};

/** Plain words, e.g. "no commitment · no coordination · no obligation · …". Every view uses this. */
export function describeStance(s: Stance): string {
  return stanceTerms
    .map((t) => (s[t] === "none" ? `no ${termWords[t]}` : `${termWords[t]}: ${s[t]}`))
    .join(" · ");
}

export function isNonBinding(s: Stance): boolean {
  return stanceTerms.every((t) => s[t] === "none");
}
