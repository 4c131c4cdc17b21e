/**
 * Whether this relay node is shutting down. Set once, when it starts draining (drain.ts); from
 * then on /readyz answers 503 and requests that still arrive on open connections are refused.
 */
export class RelayLifecycle {
  private drainingNow = false;

  get draining(): boolean {
    return this.drainingNow;
  }

  startDraining(): void {
    this.drainingNow = true;
  }
}
