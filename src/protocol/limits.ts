/** Size limits shared by server and clients, so a client never builds what the server refuses. */
export const limits = {
  /** HTTP body, bytes. */
  bodyBytes: 1024 * 1024,
  /** One WebSocket frame from a client, bytes. */
  frameBytes: 4096,
  /** One MLS message (commit or application), bytes before base64url. */
  ciphertextBytes: 512 * 1024,
  keyPackageBytes: 16 * 1024,
  welcomeBytes: 256 * 1024,
  /**
   * Text of a signal, conveyance, acknowledgement, note or understanding, in bytes of UTF-8. A
   * device checks it before it encrypts anything (the relay never sees the text to check it). An
   * event too large for one MLS message travels as several (see `fragmentBytes`).
   */
  textBytes: 1024 * 1024,
  /**
   * Most plaintext bytes in one MLS application message: padded (crypto/mls/padding.ts) it fills
   * the 256 KiB bucket, the largest whose ciphertext stays under `ciphertextBytes`. A larger
   * event is cut into fragments of at most this size, each its own event on the relay.
   */
  fragmentBytes: 256 * 1024 - 4,
  /** Fragments of one event: enough for the largest text even with every character escaped. */
  fragmentsPerEvent: 64,
  /** One attachment (a file), bytes before encryption and padding. */
  attachmentBytes: 64 * 1024 * 1024,
  attachmentsPerEvent: 16,
  /**
   * An attachment is encrypted in chunks of this many plaintext bytes (sdk/blob-crypto.ts), so no
   * side ever holds a whole file; each chunk gains a 16-byte tag.
   */
  blobChunkBytes: 64 * 1024,
  /** Events returned by one page of GET …/events. */
  pageEvents: 500,
  welcomesPerCommit: 64,
} as const;
