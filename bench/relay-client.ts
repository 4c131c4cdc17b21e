import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";

/**
 * The leanest client the relay's append allows: node:http over keep-alive connections, the body
 * spliced from a template (one real MLS ciphertext, made once) with a fresh event id, the ack
 * parsed and checked. It sends what the sdk sends (POST /v1/caucuses/{id}/events with a bearer
 * token) and nothing else: no confirming sync, no MLS work, so the run measures the relay.
 */
export interface RelaySender {
  caucusId: string;
  token: string;
  epoch: number;
  /** base64url, as on the wire. */
  ciphertext: string;
}

export interface RelayAck {
  seq: number;
  hash: string;
  duplicate: boolean;
}

export class RelayClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly url: URL;

  constructor(relayUrl: string) {
    this.url = new URL(relayUrl);
  }

  /** One sender's append: resolves with the ack once the relay answered 201. */
  appender(sender: RelaySender): () => Promise<RelayAck> {
    const path = `/v1/caucuses/${sender.caucusId}/events`;
    const headers = {
      authorization: `Bearer ${sender.token}`,
      "content-type": "application/json",
    };
    const tail = `,"kind":"application","epoch":${sender.epoch},"ciphertext":"${sender.ciphertext}"}`;
    return () => this.post(path, headers, `{"eventId":"${randomUUID()}"${tail}`);
  }

  close(): void {
    this.agent.destroy();
  }

  private post(path: string, headers: Record<string, string>, body: string): Promise<RelayAck> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method: "POST",
          path,
          headers: { ...headers, "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode !== 201) {
              reject(new Error(`relay answered ${res.statusCode}: ${text}`));
              return;
            }
            resolve(JSON.parse(text) as RelayAck);
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}
