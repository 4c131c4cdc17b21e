import type { OperationId, Role } from "../protocol/index.js";

/** The authenticated device a request acts as; set by `authenticate` (auth.ts). */
export interface AuthenticatedDevice {
  deviceId: string;
  role: Role;
  /** The session's bearer token, hashed as stored (logout revokes it). */
  tokenHash: string;
}

declare module "fastify" {
  interface FastifyRequest {
    device: AuthenticatedDevice | null;
  }
  interface FastifyContextConfig {
    /** The route-table entry an API route serves; app.ts refuses an API route without one. */
    operationId?: OperationId;
  }
}
