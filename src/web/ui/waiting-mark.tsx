/** A visible marker on an item that waits for this user's action (to convey, acknowledge, endorse). */
export function WaitingMark({ action }: { action: string }) {
  return (
    <p className="waiting-mark">
      <strong>Waiting for you:</strong> {action}
    </p>
  );
}
