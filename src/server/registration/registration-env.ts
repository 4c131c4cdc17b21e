import {
  defaultRegistrationMode,
  isRegistrationMode,
  registrationModes,
  type RegistrationMode,
} from "./registration-mode.js";

/** BACKCHANNEL_REGISTRATION, checked: unset or empty is the default, anything unknown stops the relay. */
export function registrationFromEnv(env: { BACKCHANNEL_REGISTRATION?: string }): RegistrationMode {
  const value = env.BACKCHANNEL_REGISTRATION || defaultRegistrationMode;
  if (!isRegistrationMode(value))
    throw new Error(`BACKCHANNEL_REGISTRATION must be ${registrationModes.join(" or ")}, got "${value}"`);
  return value;
}

/**
 * `serve`'s start-up line about registration. An open relay is the operator's explicit choice,
 * but anyone who reaches it may register: say so as a warning, every start.
 */
export function registrationLine(mode: RegistrationMode): string {
  return mode === "open"
    ? "WARNING: registration is open: anyone who can reach this relay can register as a mediator (--registration tokens closes it)\n"
    : "registration: mediators need a registration token (make one with: backchannel admin token create)\n";
}
