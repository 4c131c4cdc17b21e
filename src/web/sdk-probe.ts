import { browserPlatform, IdbStateStore } from "../sdk/browser.js";
import { Mediator, MemoryStateStore, Party, decodeInviteCode, watch, type Device } from "../sdk/index.js";

/**
 * The browser sdk, exposed on a page of its own so the browser tests (test/web) can drive it
 * with page.evaluate through the real production bundle. The console page exposes nothing.
 * `devices` keeps objects alive between evaluate calls.
 */
const probe = {
  browserPlatform,
  IdbStateStore,
  MemoryStateStore,
  Mediator,
  Party,
  decodeInviteCode,
  watch,
  devices: new Map<string, Device>(),
};

export type BackchannelProbe = typeof probe;
/** How tests see the page's window (no global declaration, so the console's code never sees it). */
export type ProbeWindow = Window & { backchannelProbe: BackchannelProbe };

(window as unknown as ProbeWindow).backchannelProbe = probe;
