/**
 * The subjects relay nodes talk on: `<prefix>.push.<deviceId>` carries a push frame for a device,
 * `<prefix>.disconnect.<deviceId>` closes its sockets. A node subscribes to `<prefix>.*.<deviceId>`,
 * one NATS subscription per device, so a device's pushes and disconnects reach it in the order they
 * were published (a removed device gets the membership frame before its socket closes).
 */
export const defaultPrefix = "backchannel";

export type MessageKind = "push" | "disconnect";

/** A NATS subject token: no dots, wildcards or whitespace. The relay's ids (UUIDs) are all tokens. */
const token = /^[A-Za-z0-9_-]+$/;

export interface Subjects {
  of(kind: MessageKind, deviceId: string): string;
  /** The one subscription a node holds while the device has sockets on it. */
  device(deviceId: string): string;
  /** What a received message is, from its subject; undefined for a kind this version does not know. */
  kindOf(subject: string): MessageKind | undefined;
}

export function subjects(prefix: string = defaultPrefix): Subjects {
  if (!prefix.split(".").every((t) => token.test(t)))
    throw new Error(
      `NATS subject prefix "${prefix}" must be dot-separated tokens of letters, digits, - and _`,
    );
  const checked = (deviceId: string): string => {
    if (!token.test(deviceId))
      throw new Error(`device id ${JSON.stringify(deviceId)} is not a NATS subject token`);
    return deviceId;
  };
  const depth = prefix.split(".").length;
  return {
    of: (kind, deviceId) => `${prefix}.${kind}.${checked(deviceId)}`,
    device: (deviceId) => `${prefix}.*.${checked(deviceId)}`,
    kindOf(subject) {
      const kind = subject.split(".")[depth];
      return kind === "push" || kind === "disconnect" ? kind : undefined;
    },
  };
}
