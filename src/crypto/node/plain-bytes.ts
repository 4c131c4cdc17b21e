/**
 * node:crypto answers with Buffers, often views into a shared 8 KiB pool. Handed to code written for
 * Uint8Array they misbehave quietly: `.buffer` is the whole pool (the HPKE library serialises keys
 * and ciphertexts that way), `.slice()` shares memory instead of copying, and equality checks tell
 * a Buffer from a Uint8Array. Everything node:crypto returns to a library goes through here first.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
