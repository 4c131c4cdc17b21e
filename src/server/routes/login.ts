import { loginSigningString, removalsSigningString } from "../../protocol/index.js";
import { hashToken, randomToken } from "../auth.js";
import { verifyEd25519 } from "../ed25519.js";
import { ServerError } from "../errors.js";
import { disconnectReasons } from "../notifier.js";
import type { RouteContext } from "./context.js";
import type { RouteHandlers } from "./register-route.js";

export function loginRoutes({
  storage,
  config,
  notifier,
  limits,
}: RouteContext): RouteHandlers<"createChallenge" | "createSession" | "getRemovals" | "logout"> {
  return {
    async createChallenge({ body: { deviceId }, request }) {
      // Each challenge is a stored row: a flood of them is refused before one is written.
      await limits.login(request.ip, deviceId);
      const now = config.now();
      await storage.pruneExpired(now);
      const nonce = randomToken();
      const expiresAt = now + config.challengeTtlMs;
      await storage.createChallenge({ nonce, deviceId, expiresAt });
      return { nonce, expiresAt: new Date(expiresAt).toISOString() };
    },

    async createSession({ body, request }) {
      const now = config.now();
      const device = await provenDevice(request.ip, body, loginSigningString(body.deviceId, body.nonce), now);
      // Told only to the holder of the login key, like every answer after the signature check.
      if (device.removed) throw new ServerError("device_removed", "this device was removed");
      const token = randomToken();
      const expiresAt = now + config.tokenTtlMs;
      await storage.createSession({ tokenHash: hashToken(token), deviceId: device.deviceId, expiresAt });
      return { token, expiresAt: new Date(expiresAt).toISOString() };
    },

    /** A removed device cannot log in; this is where it reads the mediator's signed word. */
    async getRemovals({ body, request }) {
      const device = await provenDevice(
        request.ip,
        body,
        removalsSigningString(body.deviceId, body.nonce),
        config.now(),
      );
      return { removals: await storage.listRemovalProofs(device.deviceId) };
    },

    async logout({ device, body }) {
      const tokenHash = body.all === true ? undefined : device.tokenHash;
      const revoked = await storage.deleteSessions(device.deviceId, tokenHash);
      await notifier.disconnect({
        deviceId: device.deviceId,
        ...(tokenHash !== undefined ? { tokenHash } : {}),
        ...disconnectReasons.loggedOut,
      });
      return { revoked };
    },
  };

  /**
   * The device that signed `signed` over a live nonce it was given, or a refusal; each refusal
   * counts against the device from this address (limits.failedLogins).
   */
  async function provenDevice(
    ip: string,
    body: { deviceId: string; nonce: string; signature: string },
    signed: string,
    now: number,
  ) {
    await limits.login(ip, body.deviceId);
    try {
      return await checkProof(body, signed, now);
    } catch (error) {
      await limits.loginFailed(ip, body.deviceId);
      throw error;
    }
  }

  async function checkProof(
    body: { deviceId: string; nonce: string; signature: string },
    signed: string,
    now: number,
  ) {
    // Taken (deleted) before anything is checked: a nonce gets exactly one attempt.
    const challenge = await storage.takeChallenge(body.nonce);
    if (!challenge || challenge.deviceId !== body.deviceId || challenge.expiresAt <= now) {
      throw new ServerError("challenge_invalid", "login nonce is unknown, used or expired");
    }
    // Unknown device and bad signature get the same answer, so login does not enumerate devices.
    const device = await storage.getDevice(body.deviceId);
    if (!device || !verifyEd25519(device.authPublicKey, signed, body.signature)) {
      throw new ServerError("signature_invalid", "signature does not verify");
    }
    return device;
  }
}
