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
  /** Text of a signal, conveyance, acknowledgement or understanding, in characters. */
  textChars: 20_000,
  /** Events returned by one page of GET …/events. */
  pageEvents: 500,
  welcomesPerCommit: 64,
} as const;
