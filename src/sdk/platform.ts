/**
 * What differs between Node and the browser for a device: how its login key is made and used, and
 * how its requests travel. (The primitives under MLS and identity keys differ as well; the same
 * runtime adapters, sdk/node.ts and sdk/browser.ts, install those: crypto/crypto-backend.ts.)
 */
export interface AuthKeyPair {
  secret: string;
  publicKey: string;
}

export interface Platform {
  /** May be async: WebCrypto only generates keys asynchronously. */
  generateAuthKey(): AuthKeyPair | Promise<AuthKeyPair>;
  signAuth(key: AuthKeyPair, message: Uint8Array): string | Promise<string>;
  /** How requests reach the relay; default: the global fetch. */
  transport?: HttpTransport;
}

/** One HTTP exchange with the relay: rejects only when no answer came (unreachable, reset). */
export type HttpTransport = (request: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}) => Promise<{ status: number; text: string }>;

/** The global fetch (browsers, and Node when no faster transport is given). */
export const fetchTransport: HttpTransport = async ({ method, url, headers, body }) => {
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, text: await res.text() };
};
