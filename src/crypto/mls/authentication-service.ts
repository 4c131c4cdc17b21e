import type { AuthenticationService, Credential } from "ts-mls";
import { decodeCredential, verifyCredential, type TrustContext } from "./credential.js";

/**
 * Replaces ts-mls's accept-everything default: ts-mls calls this for every leaf it meets (ratchet
 * tree on join, key packages in adds, leaf updates, the GroupInfo signer), and a leaf passes only
 * if its certificate chain ends at the pinned mediator key and names this caucus.
 */
export function caucusAuthenticationService(trust: TrustContext): AuthenticationService {
  return {
    validateCredential(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
      if (credential.credentialType !== "basic") return Promise.resolve(false);
      const c = decodeCredential(credential.identity);
      return Promise.resolve(c !== undefined && verifyCredential(c, signaturePublicKey, trust));
    },
  };
}
