import { secondsSince } from "../storage/commit-observer.js";
import type { Storage } from "../storage/storage.js";
import type { RelayMetrics } from "./relay-metrics.js";

/**
 * The storage, with its appends counted and timed: events, ciphertext bytes, and the time each
 * append waited for its group commit. Everything else passes through untouched. A wrapper rather
 * than code in each backend: both are counted alike, and storage stays free of metrics.
 */
export function meteredStorage(storage: Storage, metrics: RelayMetrics): Storage {
  const appendEvent: Storage["appendEvent"] = async (input) => {
    const start = process.hrtime.bigint();
    const result = await storage.appendEvent(input);
    metrics.appended({
      duplicate: result.duplicate,
      ciphertextBytes: Buffer.byteLength(input.ciphertext, "base64url"),
      seconds: secondsSince(start),
    });
    return result;
  };
  const bound = new Map<PropertyKey, unknown>([["appendEvent", appendEvent]]);
  return new Proxy(storage, {
    get(target, key) {
      if (bound.has(key)) return bound.get(key);
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      bound.set(key, method);
      return method;
    },
  });
}
