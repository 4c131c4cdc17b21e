import type { DeviceRecord, Storage } from "../storage/storage.js";
import type { RegistrationMode } from "./registration-mode.js";
import { hashRegistrationToken, registrationClosed } from "./registration-token.js";

/**
 * Registers a mediator device as the relay's registration mode allows. With tokens, the missing
 * token is refused before storage is touched; otherwise spending a use and creating the device
 * are one transaction, so a refused device (its id taken) spends nothing. An open relay ignores
 * a token it is given: it has nothing to check it for.
 */
export async function registerMediator(
  storage: Storage,
  { mode, now }: { mode: RegistrationMode; now: number },
  device: DeviceRecord,
  registrationToken: string | undefined,
): Promise<void> {
  if (mode === "open") return storage.createDevice(device);
  if (registrationToken === undefined) throw registrationClosed();
  await storage.registerWithToken({ tokenHash: hashRegistrationToken(registrationToken), device, now });
}
