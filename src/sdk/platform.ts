/**
 * What differs between Node and the browser: how the device login key is made and used.
 * (Identity and MLS keys use the same audited JS libraries everywhere.)
 */
export interface AuthKeyPair {
  secret: string;
  publicKey: string;
}

export interface Platform {
  generateAuthKey(): AuthKeyPair;
  signAuth(key: AuthKeyPair, message: Uint8Array): string | Promise<string>;
}
