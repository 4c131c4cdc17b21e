import { ed25519PublicKey } from "../ed25519.js";
import { ServerError } from "../errors.js";
import { registerMediator } from "../registration/register-mediator.js";
import type { RouteContext } from "./context.js";
import type { RouteHandlers } from "./register-route.js";

export function mediatorRoutes({ storage, config }: RouteContext): RouteHandlers<"registerMediator"> {
  return {
    async registerMediator({ body }) {
      if (!ed25519PublicKey(body.authPublicKey)) {
        throw new ServerError("invalid_request", "authPublicKey: not an Ed25519 public key");
      }
      await registerMediator(
        storage,
        { mode: config.registration, now: config.now() },
        { deviceId: body.deviceId, role: "mediator", authPublicKey: body.authPublicKey },
        body.registrationToken,
      );
      return { deviceId: body.deviceId, role: "mediator" };
    },
  };
}
