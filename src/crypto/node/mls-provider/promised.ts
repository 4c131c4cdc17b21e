/**
 * ts-mls and the HPKE library speak Promises; node:crypto answers synchronously. This lifts a
 * synchronous computation into a Promise that rejects, rather than throws, when it fails, as a
 * caller of a Promise-returning function expects.
 */
export function promised<T>(compute: () => T): Promise<T> {
  return new Promise((resolve) => resolve(compute()));
}
