import { useContext, useMemo } from "react";
import type { ChannelSnapshot, Mediator } from "../../sdk/index.js";
import { Arrivals, ReadMarksContext, unreadCount, useReadMarks, useTitleBadge } from "./unread.js";

/** Every caucus of every channel: the unread total in the tab's title, and arrivals announced. */
export function MediatorNews({
  device,
  channels,
}: {
  device: Mediator;
  channels: readonly ChannelSnapshot[];
}) {
  const marks = useContext(ReadMarksContext);
  useReadMarks(marks);
  const caucuses = useMemo(
    () =>
      channels.flatMap((ch) =>
        ch.caucuses.map((c) => ({
          caucusId: c.caucusId,
          label: `${c.partyName}'s caucus (“${ch.topic}”)`,
          views: c.views,
        })),
      ),
    [channels],
  );
  const total = caucuses.reduce(
    (n, c) => n + (marks ? unreadCount(c.views, device.deviceId, marks.readUpTo(c.caucusId)) : 0),
    0,
  );
  useTitleBadge(total);
  return <Arrivals caucuses={caucuses} selfDeviceId={device.deviceId} />;
}
