import { randomUUID } from "node:crypto";
import { nodeTransport } from "../src/sdk/node-transport.js";

/**
 * The leanest client the relay's append allows: the sdk's node:http keep-alive transport, the body
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
  private readonly url: URL;

  constructor(relayUrl: string) {
    this.url = new URL(relayUrl);
  }

  /** One sender's append: resolves with the ack once the relay answered 201. */
  appender(sender: RelaySender): () => Promise<RelayAck> {
    const url = new URL(`/v1/caucuses/${sender.caucusId}/events`, this.url);
    const headers = {
      authorization: `Bearer ${sender.token}`,
      "content-type": "application/json",
    };
    const tail = `,"kind":"application","epoch":${sender.epoch},"ciphertext":"${sender.ciphertext}"}`;
    return async () => {
      // The devices' own transport (keep-alive node:http), without the sdk around it.
      const { status, text } = await nodeTransport({
        method: "POST",
        url,
        headers,
        body: `{"eventId":"${randomUUID()}"${tail}`,
      });
      if (status !== 201) throw new Error(`relay answered ${status}: ${text}`);
      return JSON.parse(text) as RelayAck;
    };
  }
}
