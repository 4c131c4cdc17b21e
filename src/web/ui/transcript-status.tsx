/** Verified, or the exact problem in red: a broken transcript is never shown as normal. */
export function TranscriptStatus({ problem, removed }: { problem?: string; removed?: boolean }) {
  if (removed)
    return (
      <p role="alert" className="problem">
        This device was removed from the caucus; it can read nothing sent since.
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
