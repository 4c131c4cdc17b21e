import { maxInviteTtlMs } from "../../protocol/index.js";
import { ServerError } from "../errors.js";
import type { RouteContext } from "./context.js";
import type { RouteHandlers } from "./register-route.js";

/**
 * Short invites (issue 11): the relay keeps a sealed box under a lookup id until one take or its
 * expiry. It cannot open the box (the key comes from the short code, which it never sees).
 */
export function shortInviteRoutes({
  storage,
  config,
  limits,
}: RouteContext): RouteHandlers<"putShortInvite" | "takeShortInvite"> {
  return {
    async putShortInvite({ body }) {
      const expiresAt = Date.parse(body.expiresAt);
      const now = config.now();
      if (expiresAt <= now || expiresAt > now + maxInviteTtlMs)
        throw new ServerError("invalid_request", "expiresAt: must be in the future, at most 30 days ahead");
      await storage.putShortInvite({ lookupId: body.lookupId, box: body.box, expiresAt });
      return { lookupId: body.lookupId, expiresAt: new Date(expiresAt).toISOString() };
    },

    async takeShortInvite({ params: { lookupId }, request }) {
      // A take is a guess at a short code: it spends the address's login allowance.
      await limits.shortInviteTake(request.ip);
      const box = await storage.takeShortInvite(lookupId, config.now());
      // One answer for unknown, taken and expired: a guesser learns nothing about which exist.
      if (box === undefined) throw new ServerError("invite_invalid", "no such short invite");
      return { box };
    },
  };
}
