import http from "node:http";
import https from "node:https";
import type { HttpTransport } from "./platform.js";

// One keep-alive connection pool per scheme: a device's requests reuse their sockets (no TCP or
// TLS handshake per call), and idle sockets do not keep a finished CLI process alive.
const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

/**
 * Requests through node:http with keep-alive. A quarter of undici fetch's CPU per request on this
 * machine (63 vs 250 µs, bench notes in bench/README.md), which is most of a send's own cost.
 */
export const nodeTransport: HttpTransport = ({ method, url, headers, body }) =>
  new Promise((resolve, reject) => {
    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:") {
      reject(new Error(`unsupported protocol ${url.protocol}`));
      return;
    }
    const request = (secure ? https : http).request(
      url,
      {
        method,
        agent: agents[secure ? "https:" : "http:"],
        headers: body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(body);
  });
