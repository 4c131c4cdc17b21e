import { z } from "zod";

/** Where the console's page finds its settings: a file next to it (the CSP forbids inline script). */
export const consoleConfigPath = "/config.json";

/**
 * What whoever serves the web console tells it. `backchannel console` (the console served from the
 * installed package on this machine) names the relay it talks to, cross-origin; a relay that
 * serves the console itself (`serve --console`) leaves `relayUrl` out: the console's own origin
 * is then the relay, and the console says on screen that the relay's operator could read what is
 * done in it (its code comes from the relay).
 */
export const consoleConfig = z.strictObject({
  relayUrl: z
    .string()
    .url()
    .refine((u) => /^https?:$/.test(new URL(u).protocol), "the relay is reached over http or https")
    .optional(),
});
export type ConsoleConfig = z.infer<typeof consoleConfig>;
