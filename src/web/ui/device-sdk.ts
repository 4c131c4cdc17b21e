/**
 * What the console needs of the sdk to open or make a device: MLS, HPKE and the rest of the
 * crypto, most of the console's code by size. app.tsx and landing.tsx import it on demand (once a
 * device exists, or when one is made), so the first screen of a new browser loads without it.
 */
export { assertSecureContext, browserPlatform, IdbStateStore } from "../../sdk/browser.js";
export { decodeInviteCode, isShortCode, Mediator, openDevice, Party } from "../../sdk/index.js";
