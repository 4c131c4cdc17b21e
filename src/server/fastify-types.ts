import type { Role } from "../protocol/index.js";
import type { RouteDoc } from "./openapi.js";

/** The authenticated device a request acts as; set by `authenticate` (auth.ts). */
export interface AuthenticatedDevice {
  deviceId: string;
  role: Role;
}

declare module "fastify" {
  interface FastifyRequest {
    device: AuthenticatedDevice | null;
  }
  interface FastifyContextConfig {
    /** Every route carries its OpenAPI description; app.ts refuses a route without one. */
    doc?: RouteDoc;
  }
}
