import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CommitObservation } from "../storage/commit-observer.js";

/** Appends and commits take from well under a millisecond (SQLite, page cache) to seconds (a busy disk). */
const storageBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The relay's Prometheus metrics, in a registry of its own (not prom-client's global one), so
 * several relays in one process (tests, the demo) each count their own.
 *
 * No label ever carries a caucus, channel, device or invite id, nor a raw URL: the relay is
 * untrusted and should learn, and leak, as little as it can. A scrape tells how busy the relay is,
 * never who talks to whom. Labels are route templates, methods, statuses and stable error codes:
 * small, fixed sets.
 */
export class RelayMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: "backchannel_http_requests_total",
    help: "HTTP requests answered, by route template, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.registry],
  });

  private readonly refusals = new Counter({
    name: "backchannel_http_refusals_total",
    help: "HTTP requests refused (4xx, 5xx), by route template and stable error code",
    labelNames: ["route", "code"] as const,
    registers: [this.registry],
  });

  private readonly requestSeconds = new Histogram({
    name: "backchannel_http_request_duration_seconds",
    help: "Time from a request's arrival to its answer, by route template and method",
    labelNames: ["route", "method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly eventsAppended = new Counter({
    name: "backchannel_events_appended_total",
    help: "Events appended to caucus transcripts (a retried duplicate is not counted)",
    registers: [this.registry],
  });

  private readonly ciphertextBytes = new Counter({
    name: "backchannel_ciphertext_bytes_appended_total",
    help: "Bytes of event ciphertext appended (decoded, welcomes not included)",
    registers: [this.registry],
  });

  private readonly appendSeconds = new Histogram({
    name: "backchannel_append_duration_seconds",
    help: "Time from an append reaching storage to its answer: the wait for a group commit and the commit",
    buckets: storageBuckets,
    registers: [this.registry],
  });

  private readonly commitSeconds = new Histogram({
    name: "backchannel_storage_commit_duration_seconds",
    help: "Time of one group commit of appends, BEGIN to COMMIT, the fsync (SQLite) or WAL flush (PostgreSQL) included",
    buckets: storageBuckets,
    registers: [this.registry],
  });

  private readonly commitWrites = new Histogram({
    name: "backchannel_storage_commit_writes",
    help: "Appends per group commit",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  private readonly commitFailures = new Counter({
    name: "backchannel_storage_commit_failures_total",
    help: "Group commits whose transaction failed as a whole (every append in it was refused)",
    registers: [this.registry],
  });

  /** `processMetrics`: also Node's own (CPU, memory, event loop lag, GC); once per process. */
  constructor({ processMetrics = false }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one answered HTTP request; `code` is the stable error code of a refusal. */
  request(answer: { route: string; method: string; status: number; seconds: number; code?: string }): void {
    const { route, method, status, seconds, code } = answer;
    this.requests.inc({ route, method, status });
    this.requestSeconds.observe({ route, method }, seconds);
    if (code !== undefined) this.refusals.inc({ route, code });
  }

  /** One append answered by storage (`duplicate`: a retry that found its event already there). */
  appended(answer: { duplicate: boolean; ciphertextBytes: number; seconds: number }): void {
    this.appendSeconds.observe(answer.seconds);
    if (answer.duplicate) return;
    this.eventsAppended.inc();
    this.ciphertextBytes.inc(answer.ciphertextBytes);
  }

  /** Storage's commit observer (storage/commit-observer.ts): pass it to openStorage. */
  readonly commit = ({ writes, seconds, ok }: CommitObservation): void => {
    this.commitSeconds.observe(seconds);
    this.commitWrites.observe(writes);
    if (!ok) this.commitFailures.inc();
  };

  /** A gauge read at each scrape: nothing to keep up to date on the hot path. */
  gauge(name: string, help: string, read: () => number): void {
    this.registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** The scrape: Prometheus's text format, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
