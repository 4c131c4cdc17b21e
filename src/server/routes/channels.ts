import { randomUUID } from "node:crypto";
import { notFound } from "../errors.js";
import type { ChannelRecord, Storage } from "../storage/storage.js";
import type { RouteContext } from "./context.js";
import { publishAll } from "./publish.js";
import type { RouteHandlers } from "./register-route.js";

export function channelRoutes({
  storage,
  notifier,
  config,
}: RouteContext): RouteHandlers<
  "createChannel" | "listChannels" | "createCaucus" | "setChannelRetention" | "closeChannel"
> {
  return {
    async createChannel({ device: mediator, body }) {
      const channelId = randomUUID();
      // Every device of this mediator mediates the channel; the others join each caucus by commit.
      const others = (await storage.listMediatorDevices(mediator.deviceId)).filter(
        (d) => d !== mediator.deviceId,
      );
      await storage.createChannel({
        channelId,
        mediatorDeviceIds: [mediator.deviceId, ...others],
        ...(body.retentionDays !== undefined ? { retentionDays: body.retentionDays } : {}),
      });
      return { channelId };
    },

    async listChannels({ device: mediator }) {
      const channels = await storage.listChannels(mediator.deviceId);
      return { channels: channels.map(channelSummary) };
    },

    async setChannelRetention({ device: mediator, params: { channelId }, body }) {
      await mediatedChannel(storage, channelId, mediator.deviceId);
      await storage.setChannelRetention(channelId, body.retentionDays);
      return channelSummary(await mediatedChannel(storage, channelId, mediator.deviceId));
    },

    async closeChannel({ device: mediator, params: { channelId }, request }) {
      await mediatedChannel(storage, channelId, mediator.deviceId);
      await storage.closeChannel(channelId, config.now() + config.retention.closeGraceMs);
      const channel = await mediatedChannel(storage, channelId, mediator.deviceId);
      // Every member hears of it on its next fetch (listEvents says closed); tell them now.
      const deliveries = [];
      for (const caucusId of channel.caucusIds)
        for (const m of await storage.listMembers(caucusId))
          if (m.joined && !m.removed)
            deliveries.push({ deviceId: m.deviceId, frame: { type: "membership" as const, caucusId } });
      await publishAll(notifier, request.log, deliveries);
      return channelSummary(channel);
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

/** The channel, if this device mediates it; not_found otherwise (no existence oracle). */
async function mediatedChannel(
  storage: Storage,
  channelId: string,
  deviceId: string,
): Promise<ChannelRecord> {
  const channel = await storage.getChannel(channelId);
  if (!channel?.mediatorDeviceIds.includes(deviceId)) throw notFound();
  return channel;
}

const channelSummary = (c: ChannelRecord) => ({
  channelId: c.channelId,
  caucusIds: c.caucusIds,
  ...(c.retentionDays !== undefined ? { retentionDays: c.retentionDays } : {}),
  ...(c.deleteAt !== undefined ? { closed: { deleteAt: new Date(c.deleteAt).toISOString() } } : {}),
});
