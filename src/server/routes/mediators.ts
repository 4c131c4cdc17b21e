import { ed25519PublicKey } from "../ed25519.js";
import { ServerError } from "../errors.js";
import type { RouteContext } from "./context.js";
import type { RouteHandlers } from "./register-route.js";

export function mediatorRoutes({ storage }: RouteContext): RouteHandlers<"registerMediator"> {
  return {
    async registerMediator({ body }) {
      if (!ed25519PublicKey(body.authPublicKey)) {
        throw new ServerError("invalid_request", "authPublicKey: not an Ed25519 public key");
      }
      await storage.createDevice({
        deviceId: body.deviceId,
        role: "mediator",
        authPublicKey: body.authPublicKey,
      });
      return { deviceId: body.deviceId, role: "mediator" };
    },
  };
}
