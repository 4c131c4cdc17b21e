import * as nodeCrypto from "node:crypto";
import type { CryptoBackend } from "../crypto-backend.js";
import { nodeEd25519 } from "./ed25519.js";
import { nodeCryptoProvider } from "./mls-provider/provider.js";

/** Node: every primitive on node:crypto (OpenSSL). Installed by sdk/node.ts. */
export const nodeCryptoBackend: CryptoBackend = {
  name: "node:crypto",
  mls: nodeCryptoProvider,
  ed25519: nodeEd25519,
  // One-shot crypto.hash (Node 20.12 and later) costs half a createHash object per round.
  sha512:
    typeof nodeCrypto.hash === "function"
      ? (data) => nodeCrypto.hash("sha512", data, "buffer")
      : (data) => nodeCrypto.createHash("sha512").update(data).digest(),
};
