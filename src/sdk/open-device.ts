import { Mediator } from "./mediator/mediator.js";
import { Party } from "./party.js";
import type { Platform } from "./platform.js";
import { storedRole } from "./state-parts.js";
import type { StateStore } from "./state-store.js";

/**
 * Opens whichever device a store holds, mediator or party, as its own class. The role is read
 * from the device's own part; the state is validated once, by the class that opens it.
 */
export async function openDevice(store: StateStore, platform: Platform): Promise<Mediator | Party> {
  return storedRole(await store.load()) === "mediator"
    ? Mediator.open(store, platform)
    : Party.open(store, platform);
}
