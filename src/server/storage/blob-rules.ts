import { ServerError } from "../errors.js";
import type { CaucusRecord, PutBlobInput } from "./storage.js";
import { checkQuota } from "./append-rules.js";

/**
 * What both backends check before they store a blob's first byte (Storage.putBlob), in the
 * transaction that counts it against the quota: the caucus exists and is open, the id is new,
 * and the blob fits the caucus's and the channel's quota.
 */
export function checkBlob(
  input: PutBlobInput,
  caucus: CaucusRecord | undefined,
  exists: boolean,
  stored: () => { caucus: number; channel: number },
): CaucusRecord {
  if (!caucus) throw new ServerError("not_found", "not found");
  if (caucus.closed) throw new ServerError("channel_closed", "this caucus's channel is closed");
  if (exists) throw new ServerError("invalid_request", "a blob with this id exists", 409);
  if (input.quota) checkQuota(stored(), input.bytes, input.quota);
  return caucus;
}

/**
 * The body, passed on as it comes, refused (invalid_request) the moment it runs past `bytes`, or
 * when it ends short: what is stored is exactly what the upload announced and was counted.
 */
export async function* exactly(body: AsyncIterable<Uint8Array>, bytes: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > bytes) throw new ServerError("invalid_request", `the body is longer than its ${bytes} bytes`);
    yield chunk;
  }
  if (seen !== bytes)
    throw new ServerError("invalid_request", `the body ended after ${seen} of its ${bytes} bytes`);
}
