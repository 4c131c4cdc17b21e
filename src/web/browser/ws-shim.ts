/**
 * Stands in for the `ws` package in the browser bundle (vite.config.ts aliases it here).
 * src/sdk/watch.ts imports `ws` only where there is no global WebSocket, which is never the case
 * in a browser; aliasing keeps Node's implementation, and its node: imports, out of the bundle.
 */
export const WebSocket = globalThis.WebSocket;
