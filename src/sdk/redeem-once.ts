import { ApiError } from "./errors.js";
import type { DeviceState } from "./device-state.js";
import { writeNewState } from "./state-parts.js";
import type { StateStore } from "./state-store.js";

/**
 * Creating a device from a one-time code (invite or staff link): the device's state is saved
 * BEFORE redeeming, so the keys that used the code can never be lost; if the relay refuses the
 * redeem for good (used, unknown, forged: a 4xx), the device can never be admitted, so the store
 * is cleared and the user can retry with a fresh code. A network failure keeps the device: the
 * redeem may have landed.
 */
export async function redeemOnce(
  store: StateStore,
  state: DeviceState,
  redeem: () => Promise<unknown>,
): Promise<void> {
  await writeNewState(store, state);
  try {
    await redeem();
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) await store.clear?.();
    throw e;
  }
}
