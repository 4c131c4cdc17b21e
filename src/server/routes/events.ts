import type { ServerFrame } from "../../protocol/index.js";
import { checkBase64Url } from "../base64url.js";
import { notFound } from "../errors.js";
import { requireMembership } from "../membership-access.js";
import type { RouteContext } from "./context.js";
import { disconnectRemoved, publishAll, publishSoon } from "./publish.js";
import type { RouteHandlers } from "./register-route.js";

export function eventRoutes({
  storage,
  notifier,
  limits,
  config,
}: RouteContext): RouteHandlers<"appendEvent" | "listEvents" | "getWelcome"> {
  return {
    async appendEvent({ device, params: { caucusId }, body, request, status }) {
      // Membership is checked by storage.appendEvent, in the transaction that appends, with the
      // same rule and the same not_found as requireMembership (one read per append, not two).
      checkBase64Url(body.ciphertext, "ciphertext");
      await limits.post(caucusId, device.deviceId);
      body.welcomes?.forEach((w, i) => checkBase64Url(w.welcome, `welcomes.${i}.welcome`));
      const welcomes = body.welcomes ?? [];
      const removes = body.removes ?? [];

      const { readers, ...result } = await storage.appendEvent({
        caucusId,
        senderDeviceId: device.deviceId,
        eventId: body.eventId,
        kind: body.kind,
        epoch: body.epoch,
        ciphertext: body.ciphertext,
        welcomes,
        removes,
        removalProofs: body.removalProofs ?? [],
        quota: limits.quota,
        ...(body.after ? { after: body.after } : {}),
        // Rule 8 checks it after idempotency: a retry of a stored event still gets its answer.
        ...(body.deleteAt !== undefined ? { deleteAt: body.deleteAt, now: config.now() } : {}),
      });
      if (!result.duplicate) {
        // The append read its readers under its lock: no second read of the caucus per event.
        const deliveries: { deviceId: string; frame: ServerFrame }[] = readers.map((deviceId) => ({
          deviceId,
          frame: { type: "event", caucusId, seq: result.seq },
        }));
        for (const deviceId of [...welcomes.map((w) => w.deviceId), ...removes]) {
          deliveries.push({ deviceId, frame: { type: "membership", caucusId } });
        }
        // A removed device must get the membership frame that says why before its sockets close:
        // those pushes go out in order, before the answer; every other push goes out after it.
        if (removes.length > 0) await publishAll(notifier, request.log, deliveries);
        else publishSoon(notifier, request.log, deliveries);
        // A removed party device is done for (storage removed it with its sessions).
        const gone: string[] = [];
        for (const d of removes) if ((await storage.getDevice(d))?.removed) gone.push(d);
        await disconnectRemoved(notifier, request.log, gone);
      }
      if (result.duplicate) status(200);
      return result;
    },

    async listEvents({ device, params: { caucusId }, query }) {
      const membership = await requireMembership(storage, caucusId, device.deviceId);
      // Events before the join point were made in epochs this device never had keys for, and
      // may predate it as a member at all.
      const after = Math.max(query.after, membership.fromSeq - 1);
      const events = await storage.listEvents(caucusId, {
        afterSeq: after,
        limit: query.limit,
        // One page of large MLS messages cannot fill memory; the client pages on from its end.
        maxBytes: limits.pageBytes,
      });
      const caucus = await storage.getCaucus(caucusId);
      if (!caucus) throw notFound();
      return {
        events,
        head: caucus.head,
        ...(caucus.deletedThrough > 0 ? { deletedThrough: caucus.deletedThrough } : {}),
        ...(caucus.closed ? { closed: true as const } : {}),
      };
    },

    async getWelcome({ device, params: { caucusId } }) {
      await requireMembership(storage, caucusId, device.deviceId);
      const welcome = await storage.getWelcome(caucusId, device.deviceId);
      if (!welcome) throw notFound();
      return {
        caucusId,
        welcome: welcome.welcome,
        seq: welcome.seq,
        hash: welcome.hash,
        ...(welcome.anchorProof ? { anchorProof: welcome.anchorProof } : {}),
      };
    },
  };
}
