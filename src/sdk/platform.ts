/**
 * What differs between Node and the browser: how the device login key is made and used.
 * (Identity and MLS keys use the same audited JS libraries everywhere.)
 */
export interface AuthKeyPair {
  secret: string;
  publicKey: string;
}

export interface Platform {
  /** May be async: WebCrypto only generates keys asynchronously. */
  generateAuthKey(): AuthKeyPair | Promise<AuthKeyPair>;
  signAuth(key: AuthKeyPair, message: Uint8Array): string | Promise<string>;
}
