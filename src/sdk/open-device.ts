import { parse } from "../protocol/index.js";
import { deviceState } from "./device-state.js";
import { Mediator } from "./mediator/mediator.js";
import { Party } from "./party.js";
import type { Platform } from "./platform.js";
import { readState } from "./state-parts.js";
import type { StateStore } from "./state-store.js";

/** Opens whichever device a store holds, mediator or party, as its own class. */
export async function openDevice(store: StateStore, platform: Platform): Promise<Mediator | Party> {
  const { role } = parse(deviceState, await readState(store), "device state");
  return role === "mediator" ? Mediator.open(store, platform) : Party.open(store, platform);
}
