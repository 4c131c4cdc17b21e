import type { z } from "zod";
import {
  errorResponse,
  fillPath,
  parse,
  routes,
  ValidationError,
  type OperationId,
  type RouteSpec,
  type Routes,
} from "../protocol/index.js";
import { ApiError, TransportError } from "./errors.js";
import { fetchTransport, type HttpTransport } from "./platform.js";

/** What a call of one operation sends; each part is there only if the route table has it. */
export type CallInput<R extends RouteSpec> = (R["params"] extends z.ZodType
  ? { params: z.input<R["params"]> }
  : { params?: never }) &
  // The query schema coerces strings; callers think in its output (numbers), all optional.
  (R["query"] extends z.ZodType ? { query?: Partial<z.output<R["query"]>> } : { query?: never }) &
  (R["body"] extends z.ZodType ? { body: z.input<R["body"]> } : { body?: never });

/** The input may be left out when the operation takes none. */
type CallArgs<R extends RouteSpec> =
  Record<string, never> extends CallInput<R> ? [input?: CallInput<R>] : [input: CallInput<R>];

export type CallResult<K extends OperationId> = z.output<Routes[K]["response"]>;

/** A rate-limited GET is asked again at most this often, and only for a wait this short. */
export const rateLimitRetries = 3;
export const maxRetryWaitSeconds = 60;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Typed HTTP client for the relay, built from the route table (protocol/routes.ts): the URL, the
 * method and whether a token goes along all come from the table. Every response body is validated
 * with the table's schema before use, so a hostile or broken server cannot hand the sdk a value
 * of the wrong shape.
 */
/** A refusal's body as the error it says (ApiError, with its code), or bad_response if it says none. */
export function refusalError(status: number, json: unknown): ApiError | TransportError {
  const err = errorResponse.safeParse(json);
  if (err.success) return new ApiError(err.data.error, err.data.message, status, err.data.retry_after);
  return new TransportError("bad_response", `server answered ${status}`);
}

export class HttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly getToken?: () => Promise<string>,
    private readonly transport: HttpTransport = fetchTransport,
    private readonly wait: (ms: number) => Promise<void> = delay,
  ) {}

  /**
   * One call of the operation. A GET (safe to repeat) that the relay refuses with rate_limited is
   * asked again after the retry_after it named, up to `rateLimitRetries` times and only while the
   * wait is at most `maxRetryWaitSeconds`; anything else refused throws ApiError (its `retryAfter`
   * says when the relay would take it).
   */
  async call<K extends OperationId>(operationId: K, ...[input]: CallArgs<Routes[K]>): Promise<CallResult<K>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce(operationId, input);
      } catch (e) {
        const wait = e instanceof ApiError && e.code === "rate_limited" ? e.retryAfter : undefined;
        if (
          routes[operationId].method !== "GET" ||
          wait === undefined ||
          wait > maxRetryWaitSeconds ||
          attempt >= rateLimitRetries
        )
          throw e;
        await this.wait(wait * 1000);
      }
    }
  }

  private async callOnce<K extends OperationId>(
    operationId: K,
    input: CallArgs<Routes[K]>[0],
  ): Promise<CallResult<K>> {
    const spec: RouteSpec = routes[operationId];
    const {
      params = {},
      query = {},
      body,
    } = (input ?? {}) as {
      params?: Record<string, string>;
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
    };
    // Ids are validated by the server, but a value with a "/" or "?" must not re-route the request.
    const path = fillPath(spec.path, (name) => encodeURIComponent(params[name] ?? ""));
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (spec.auth !== "none" && this.getToken) headers.authorization = `Bearer ${await this.getToken()}`;
    let res: { status: number; text: string };
    try {
      res = await this.transport({
        method: spec.method,
        url,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new TransportError(
        "server_unreachable",
        `cannot reach ${this.baseUrl}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const { text } = res;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new TransportError("bad_response", `server answered ${res.status} with non-JSON`);
    }
    if (res.status < 200 || res.status > 299) throw refusalError(res.status, json);
    try {
      return parse(spec.response, json, `response to ${spec.method} ${path}`) as CallResult<K>;
    } catch (e) {
      if (e instanceof ValidationError) throw new TransportError("bad_response", e.message);
      throw e;
    }
  }
}
