import { randomUUID } from "node:crypto";
import { notFound } from "../errors.js";
import type { RouteContext } from "./context.js";
import { publishAll } from "./publish.js";
import type { RouteHandlers } from "./register-route.js";

export function channelRoutes({
  storage,
  notifier,
}: RouteContext): RouteHandlers<"createChannel" | "listChannels" | "createCaucus"> {
  return {
    async createChannel({ device: mediator }) {
      const channelId = randomUUID();
      // Every device of this mediator mediates the channel; the others join each caucus by commit.
      const others = (await storage.listMediatorDevices(mediator.deviceId)).filter(
        (d) => d !== mediator.deviceId,
      );
      await storage.createChannel({ channelId, mediatorDeviceIds: [mediator.deviceId, ...others] });
      return { channelId };
    },

    async listChannels({ device: mediator }) {
      const channels = await storage.listChannels(mediator.deviceId);
      return { channels: channels.map((c) => ({ channelId: c.channelId, caucusIds: c.caucusIds })) };
    },

    async createCaucus({ device: mediator, params: { channelId }, request }) {
      const channel = await storage.getChannel(channelId);
      if (!channel?.mediatorDeviceIds.includes(mediator.deviceId)) throw notFound();
      const caucusId = randomUUID();
      await storage.createCaucus({ caucusId, channelId, creatorDeviceId: mediator.deviceId });
      await publishAll(
        notifier,
        request.log,
        channel.mediatorDeviceIds
          .filter((d) => d !== mediator.deviceId)
          .map((deviceId) => ({ deviceId, frame: { type: "membership", caucusId } })),
      );
      return { caucusId };
    },
  };
}
