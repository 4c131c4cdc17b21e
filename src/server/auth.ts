import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { AppConfig } from "./config.js";
import { ServerError, forbidden } from "./errors.js";
import type { AuthenticatedDevice } from "./fastify-types.js";
import type { Storage } from "./storage/storage.js";

/** 32 random bytes, base64url: used for login nonces and bearer tokens alike. */
export const randomToken = (): string => randomBytes(32).toString("base64url");

/** Only this is stored, so the database cannot be replayed as live sessions. */
export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** Resolves a bearer token to its device, or throws unauthenticated / token_expired. */
export async function deviceForToken(
  storage: Storage,
  config: AppConfig,
  token: string,
): Promise<AuthenticatedDevice & { expiresAt: number; tokenHash: string }> {
  const tokenHash = hashToken(token);
  const found = await storage.getSessionDevice(tokenHash);
  if (!found) throw new ServerError("unauthenticated", "missing or unknown bearer token");
  const { session, device } = found;
  if (session.expiresAt <= config.now())
    throw new ServerError("token_expired", "token expired; log in again");
  if (!device) throw new ServerError("unauthenticated", "missing or unknown bearer token");
  // Removing a device deletes its sessions in the same transaction; this holds even if not.
  if (device.removed) throw new ServerError("device_removed", "this device was removed");
  return { deviceId: device.deviceId, role: device.role, expiresAt: session.expiresAt, tokenHash };
}

const bearer = /^Bearer ([A-Za-z0-9_-]{1,200})$/;

/** preHandler for every authenticated route: sets request.device. */
export function authenticate(storage: Storage, config: AppConfig) {
  return async (request: FastifyRequest): Promise<void> => {
    const match = bearer.exec(request.headers.authorization ?? "");
    if (!match?.[1]) throw new ServerError("unauthenticated", "missing or unknown bearer token");
    const { deviceId, role, tokenHash } = await deviceForToken(storage, config, match[1]);
    request.device = { deviceId, role, tokenHash };
  };
}

/** The authenticated device; a route only calls this after `authenticate` ran. */
export function deviceOf(request: FastifyRequest): AuthenticatedDevice {
  if (!request.device) throw new ServerError("unauthenticated", "missing or unknown bearer token");
  return request.device;
}

/** Role check comes before any lookup, so a party learns nothing about the ids it passes. */
export function mediatorOf(request: FastifyRequest): AuthenticatedDevice {
  const device = deviceOf(request);
  if (device.role !== "mediator") throw forbidden();
  return device;
}
