/** Verified, or the exact problem in red: a broken transcript is never shown as normal. */
export function TranscriptStatus({
  problem,
  removed,
  refused,
  quietSince,
  closed,
}: {
  problem?: string;
  removed?: boolean;
  /** The relay refuses this device the caucus without the mediator's word that it was removed. */
  refused?: string;
  /** Nothing from the mediator since then, for longer than the liveness bound. */
  quietSince?: string;
  /** The mediator closed the channel (README "Retention"). */
  closed?: boolean;
}) {
  if (removed)
    return (
      <p role="alert" className="problem">
        This device was removed from the caucus; it can read nothing sent since.
      </p>
    );
  if (refused)
    return (
      <p role="alert" className="warning">
        The relay refuses this device the caucus ({refused}), but the mediator has not said it was removed:
        the device keeps its keys and tries again.
      </p>
    );
  if (closed && !problem)
    return (
      <p role="status" className="muted">
        The mediator closed this channel: nothing more can be sent. Its messages will be deleted.
      </p>
    );
  if (quietSince && !problem)
    return (
      <p role="alert" className="warning">
        No word from the mediator since {new Date(quietSince).toLocaleString()}: the relay may be withholding
        newer events from this device, or the mediator is offline.
      </p>
    );
  if (problem)
    return (
      <p role="alert" className="problem transcript-problem">
        Transcript problem — {problem}. Nothing after it is shown as normal, and sending is disabled.
      </p>
    );
  return <p className="ok transcript-ok">Transcript verified</p>;
}
