/**
 * The relay's retention settings (README "Retention"). A closed channel's application messages
 * are deleted after a grace period, so members can still sync what was said before the close; the
 * sweeper runs every few minutes, and marks each retained caucus's head once an hour (the grain of
 * retention and of what the marks can date: storage/retention-rules.ts).
 */
export interface RetentionOptions {
  /** From a channel's close to the deletion of its messages; default 7 days. */
  closeGraceMs?: number;
  /** Between two sweeps; default 5 minutes. 0: no sweeper (tests sweep by hand). */
  sweepIntervalMs?: number;
  /** Between two marks of a retained caucus's head; default one hour. */
  markIntervalMs?: number;
}

export const retentionPolicyDefaults = {
  closeGraceMs: 7 * 86_400_000,
  sweepIntervalMs: 5 * 60_000,
  markIntervalMs: 60 * 60_000,
} as const;

export type RetentionPolicy = Required<RetentionOptions>;

export const retentionPolicy = (options: RetentionOptions = {}): RetentionPolicy => ({
  closeGraceMs: options.closeGraceMs ?? retentionPolicyDefaults.closeGraceMs,
  sweepIntervalMs: options.sweepIntervalMs ?? retentionPolicyDefaults.sweepIntervalMs,
  markIntervalMs: options.markIntervalMs ?? retentionPolicyDefaults.markIntervalMs,
});
