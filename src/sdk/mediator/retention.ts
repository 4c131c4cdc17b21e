import type { DeviceCore } from "../core/device-core.js";
import { channelById } from "./channels.js";

/** What the relay keeps of a channel: how long, and whether (and until when) it is closed. */
export interface ChannelSettings {
  channelId: string;
  /** Messages are deleted by the relay this many days after they were sent; absent: kept. */
  retentionDays?: number;
  /** Closed by the mediator: nothing more can be sent; its messages go at deleteAt (ISO 8601). */
  closed?: { deleteAt: string };
}

const settings = (c: { channelId: string; retentionDays?: number; closed?: { deleteAt: string } }) => ({
  channelId: c.channelId,
  ...(c.retentionDays !== undefined ? { retentionDays: c.retentionDays } : {}),
  ...(c.closed ? { closed: c.closed } : {}),
});

/** Sets or lifts the channel's retention on the relay (the caller holds the lock). */
export async function setRetention(
  core: DeviceCore,
  channelId: string,
  retentionDays: number | null,
): Promise<ChannelSettings> {
  channelById(core, channelId);
  const c = await core.session.withRetry(() =>
    core.api().call("setChannelRetention", { params: { channelId }, body: { retentionDays } }),
  );
  return settings(c);
}

/** Closes the channel on the relay and marks its caucuses closed here (the caller holds the lock). */
export async function closeChannel(core: DeviceCore, channelId: string): Promise<ChannelSettings> {
  const view = channelById(core, channelId);
  const c = await core.session.withRetry(() =>
    core.api().call("closeChannel", { params: { channelId }, body: {} }),
  );
  for (const { caucusId } of view.caucuses) core.caucus(caucusId).record.closed = true;
  await core.save();
  return settings(c);
}
