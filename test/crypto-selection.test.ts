/**
 * Which crypto a device runs is chosen in one place per runtime: importing the sdk's runtime
 * adapter installs it (crypto/crypto-backend.ts). Every Node path into the sdk — the CLI, the
 * demo, a program using `backchannel/sdk/node` — comes through sdk/node.ts; the console comes
 * through sdk/browser.ts. Each test starts from a fresh module registry.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";

beforeEach(() => {
  vi.resetModules();
});

describe("the runtime adapter chooses the crypto", () => {
  test("nothing installed: ts-mls's default provider and @noble/curves, as before backends", async () => {
    const { cryptoBackend } = await import("../src/crypto/crypto-backend.js");
    expect(cryptoBackend().name).toBe("portable");
  });

  test("sdk/node.ts installs node:crypto, and cipherSuite() is that provider's", async () => {
    const { cryptoBackend } = await import("../src/crypto/crypto-backend.js");
    const { cipherSuite, cipherSuiteOn } = await import("../src/crypto/mls/suite.js");
    const { nodeCryptoProvider } = await import("../src/crypto/node/mls-provider/provider.js");
    await import("../src/sdk/node.js");
    expect(cryptoBackend().name).toBe("node:crypto");
    expect(await cipherSuite()).toBe(await cipherSuiteOn(nodeCryptoProvider));
  });

  test("sdk/browser.ts installs WebCrypto for MLS and @noble/curves for identity keys", async () => {
    const { cryptoBackend } = await import("../src/crypto/crypto-backend.js");
    const { nobleEd25519 } = await import("../src/crypto/ed25519.js");
    const { cipherSuite, cipherSuiteOn } = await import("../src/crypto/mls/suite.js");
    const { webCryptoProvider } = await import("../src/crypto/browser/mls-provider.js");
    await import("../src/sdk/browser.js");
    expect(cryptoBackend().name).toBe("webcrypto");
    expect(cryptoBackend().ed25519).toBe(nobleEd25519);
    expect(await cipherSuite()).toBe(await cipherSuiteOn(webCryptoProvider));
  });
});
