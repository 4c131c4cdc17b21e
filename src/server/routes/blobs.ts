import type { Readable } from "node:stream";
import { ServerError, notFound } from "../errors.js";
import { requireMembership } from "../membership-access.js";
import type { RouteContext } from "./context.js";
import type { RouteHandlers } from "./register-route.js";

/**
 * Attachment blobs: opaque bytes a member encrypted on its device, streamed in and out (no whole
 * blob in the relay's memory). Only joined members of the caucus a blob was uploaded to may read
 * it; everyone else gets the one not_found (membership-access.ts).
 */
export function blobRoutes({ storage, limits }: RouteContext): RouteHandlers<"putBlob" | "getBlob"> {
  return {
    async putBlob({ device, params: { caucusId, blobId }, query: { bytes }, request }) {
      await requireMembership(storage, caucusId, device.deviceId);
      const body = request.body as Readable | undefined;
      if (request.headers["content-type"] !== "application/octet-stream" || !body?.readable)
        throw new ServerError("invalid_request", "content-type must be application/octet-stream", 415);
      await limits.post(caucusId, device.deviceId);
      await storage.putBlob({ caucusId, blobId, bytes, body, quota: limits.quota });
      return { blobId, bytes };
    },

    async getBlob({ device, params: { caucusId, blobId } }) {
      await requireMembership(storage, caucusId, device.deviceId);
      const blob = await storage.openBlob(caucusId, blobId);
      if (!blob) throw notFound();
      return blob;
    },
  };
}
