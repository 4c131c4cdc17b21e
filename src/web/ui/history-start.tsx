/**
 * Says why a device's transcript starts at #N, not #1: each device reads only what was sent once it
 * was a member (MLS gives no key to earlier messages), so a handler or staff device added later
 * sees the caucus from the commit that added it.
 */
export function HistoryStart({ anchorSeq }: { anchorSeq: number }) {
  if (anchorSeq <= 1) return null;
  const before = anchorSeq === 2 ? "Event #1 was" : `Events #1–#${anchorSeq - 1} were`;
  return (
    <p className="muted history-start">
      {`This device's history starts at #${anchorSeq + 1}: it joined the caucus at #${anchorSeq}. ${before} encrypted before it was a member, so it cannot read them (the devices that were members then still can).`}
    </p>
  );
}
