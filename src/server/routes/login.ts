import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import {
  challengeRequest,
  challengeResponse,
  loginSigningString,
  parse,
  sessionRequest,
  sessionResponse,
} from "../../protocol/index.js";
import { hashToken, randomToken } from "../auth.js";
import { verifyEd25519 } from "../ed25519.js";
import { ServerError } from "../errors.js";
import type { RouteContext } from "./context.js";

export function registerLoginRoutes(app: FastifyInstance, { storage, config }: RouteContext): void {
  app.post(
    "/v1/auth/challenge",
    {
      config: {
        doc: {
          summary: "Get a one-time login nonce (any device id gets one: no enumeration)",
          auth: "none",
          body: challengeRequest,
          responses: { 200: { description: "Nonce to sign", schema: challengeResponse } },
        },
      },
    },
    async (request) => {
      const { deviceId } = parse(challengeRequest, request.body, "body");
      const now = config.now();
      await storage.pruneExpired(now);
      const nonce = randomToken();
      const expiresAt = now + config.challengeTtlMs;
      await storage.createChallenge({ nonce, deviceId, expiresAt });
      const response: z.infer<typeof challengeResponse> = {
        nonce,
        expiresAt: new Date(expiresAt).toISOString(),
      };
      return response;
    },
  );

  app.post(
    "/v1/auth/session",
    {
      config: {
        doc: {
          summary: "Exchange a signed nonce for a bearer token",
          description:
            "Sign the UTF-8 bytes of loginSigningString(deviceId, nonce) with the device's Ed25519 key.",
          auth: "none",
          body: sessionRequest,
          responses: { 200: { description: "Session", schema: sessionResponse } },
        },
      },
    },
    async (request) => {
      const body = parse(sessionRequest, request.body, "body");
      const now = config.now();
      // Taken (deleted) before anything is checked: a nonce gets exactly one attempt.
      const challenge = await storage.takeChallenge(body.nonce);
      if (!challenge || challenge.deviceId !== body.deviceId || challenge.expiresAt <= now) {
        throw new ServerError("challenge_invalid", "login nonce is unknown, used or expired");
      }
      // Unknown device and bad signature get the same answer, so login does not enumerate devices.
      const device = await storage.getDevice(body.deviceId);
      const signed = loginSigningString(body.deviceId, body.nonce);
      if (!device || !verifyEd25519(device.authPublicKey, signed, body.signature)) {
        throw new ServerError("signature_invalid", "signature does not verify");
      }
      const token = randomToken();
      const expiresAt = now + config.tokenTtlMs;
      await storage.createSession({ tokenHash: hashToken(token), deviceId: device.deviceId, expiresAt });
      const response: z.infer<typeof sessionResponse> = {
        token,
        expiresAt: new Date(expiresAt).toISOString(),
      };
      return response;
    },
  );
}
