import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ServerError, toHttpError } from "../errors.js";
import type { RelayMetrics } from "./relay-metrics.js";

export interface MetricsServer {
  /** http://host:port, no trailing slash; the metrics are at `${url}/metrics`. */
  url: string;
  close(): Promise<void>;
}

/** Default interface of the metrics listener: the machine itself (a Prometheus agent beside it). */
export const defaultMetricsHost = "127.0.0.1";

/**
 * `GET /metrics` on a listener of its own, apart from the API: the API port faces the internet,
 * and what the metrics tell (how busy the relay is, its refusals) is for its operator. Bound to
 * loopback unless the operator says otherwise. Anything else gets the API's error shape.
 */
export async function startMetricsServer(
  metrics: RelayMetrics,
  { host = defaultMetricsHost, port }: { host?: string; port: number },
): Promise<MetricsServer> {
  const server = createServer((request, response) => void answer(metrics, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  metrics: RelayMetrics,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? "").split("?", 1)[0];
  if (path !== "/metrics")
    return refuse(response, new ServerError("not_found", "not found: the metrics are at /metrics"));
  if (request.method !== "GET" && request.method !== "HEAD")
    return refuse(
      response,
      new ServerError("not_found", `${request.method} is not allowed here (allowed: GET)`, 405),
    );
  try {
    const { contentType, body } = await metrics.scrape();
    response.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
    response.end(request.method === "HEAD" ? undefined : body);
  } catch {
    refuse(response, new ServerError("internal", "internal error"));
  }
}

function refuse(response: ServerResponse, error: ServerError): void {
  const { status, body } = toHttpError(error);
  const json = JSON.stringify(body);
  response
    .writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(json),
      ...(status === 405 ? { allow: "GET" } : {}),
    })
    .end(json);
}
