import { v7 } from "uuid";

/** Client-chosen, time-ordered event ids: the idempotency key of every send. */
export const uuidv7 = (): string => v7();
