/**
 * Who may register a mediator device on this relay. "tokens", the default: only whoever holds a
 * registration token from the operator (`backchannel admin token create`). "open": anyone who
 * can reach the relay, which is an explicit choice (a demo, a relay on a private network).
 */
export const registrationModes = ["tokens", "open"] as const;
export type RegistrationMode = (typeof registrationModes)[number];

export const defaultRegistrationMode: RegistrationMode = "tokens";

export function isRegistrationMode(value: string): value is RegistrationMode {
  return (registrationModes as readonly string[]).includes(value);
}
