import type { RouteContext } from "./context.js";
import type { RouteHandlers } from "./register-route.js";

export function meRoutes({ storage }: RouteContext): RouteHandlers<"getMe"> {
  return {
    async getMe({ device }) {
      const memberships = await storage.listMemberships(device.deviceId);
      return {
        deviceId: device.deviceId,
        role: device.role,
        memberships: memberships.map((m) => ({
          caucusId: m.caucusId,
          // A party device never learns its channel: it would link its caucus to the other side's.
          ...(device.role === "mediator" ? { channelId: m.channelId } : {}),
          fromSeq: m.fromSeq,
          joined: m.joined,
        })),
      };
    },
  };
}
