/**
 * Stands in for Node's `crypto` module in the browser bundle (vite.config.ts aliases it here).
 * @hpke/common (under ts-mls) imports it only where there is no global WebCrypto, which is never
 * the case in a browser; the alias keeps the bundle free of Node built-ins, and a named import
 * of anything else from `crypto` fails the build instead of failing at run time.
 */
export const webcrypto = globalThis.crypto;
