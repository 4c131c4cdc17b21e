/** What both group commits (sqlite/ and postgres/group-commit.ts) keep per write of a batch. */

export interface Queued<I, O> {
  input: I;
  resolve(output: O): void;
  reject(error: Error): void;
}

export type Outcome<O> = { ok: true; value: O } | { ok: false; error: Error };

/** After the batch's COMMIT: each write gets its own outcome. */
export function settle<I, O>(batch: readonly Queued<I, O>[], outcomes: readonly Outcome<O>[]): void {
  outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.value) : batch[i]!.reject(o.error)));
}

/** The batch's transaction failed as a whole: none of its writes happened. */
export function rejectAll<I, O>(batch: readonly Queued<I, O>[], error: unknown): void {
  for (const q of batch) q.reject(asError(error));
}

export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
