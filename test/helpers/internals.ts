/**
 * Tests that play a hostile or modified member, or inspect what a device stores, reach past the
 * sdk's public surface here, on purpose and in one place.
 */
import type { DeviceCore } from "../../src/sdk/core/device-core.js";
import type { Device } from "../../src/sdk/index.js";

export { commitChange, sendEvent } from "../../src/sdk/core/outbound.js";

export function coreOf(device: Device): DeviceCore {
  return (device as unknown as { core: DeviceCore }).core;
}

/** The stored (serialized) MLS group state of a caucus on this device. */
export function groupOf(device: Device, caucusId: string): string | undefined {
  return coreOf(device).caucus(caucusId).record.group;
}

/** Everything the device keeps, as it would be saved. */
export function storedStateOf(device: Device): unknown {
  return coreOf(device).state;
}
