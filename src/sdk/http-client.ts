import type { z } from "zod";
import { parse, errorResponse, ValidationError } from "../protocol/index.js";
import { ApiError, TransportError } from "./errors.js";

/**
 * Thin typed HTTP client: every response body is validated with the shared schema before use,
 * so a hostile or broken server cannot hand the sdk a value of the wrong shape.
 */
export class HttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly getToken?: () => Promise<string>,
  ) {}

  async request<S extends z.ZodType>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    schema: S,
    body?: unknown,
    opts: { auth?: boolean } = {},
  ): Promise<z.output<S>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (opts.auth !== false && this.getToken) headers.authorization = `Bearer ${await this.getToken()}`;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new TransportError(
        "server_unreachable",
        `cannot reach ${this.baseUrl}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new TransportError("bad_response", `server answered ${res.status} with non-JSON`);
    }
    if (!res.ok) {
      const err = errorResponse.safeParse(json);
      if (err.success) throw new ApiError(err.data.error, err.data.message, res.status);
      throw new TransportError("bad_response", `server answered ${res.status}`);
    }
    try {
      return parse(schema, json, `response to ${method} ${path.split("?")[0]}`);
    } catch (e) {
      if (e instanceof ValidationError) throw new TransportError("bad_response", e.message);
      throw e;
    }
  }
}
