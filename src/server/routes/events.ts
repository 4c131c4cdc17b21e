import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import {
  appendEventRequest,
  appendEventResponse,
  listEventsQuery,
  listEventsResponse,
  parse,
  welcomeResponse,
  type ServerFrame,
} from "../../protocol/index.js";
import { deviceOf } from "../auth.js";
import { decodeBase64Url } from "../base64url.js";
import { notFound } from "../errors.js";
import { requireMembership } from "../membership-access.js";
import { caucusParams, type RouteContext } from "./context.js";
import { publishAll } from "./publish.js";

/** Ciphertext per page of GET …/events, so one page of large MLS messages cannot fill memory. */
export const pageBytes = 8 * 1024 * 1024;

export function registerEventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { storage, notifier, authenticate } = ctx;

  app.post(
    "/v1/caucuses/:caucusId/events",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Append an MLS message to the caucus transcript",
          description:
            "Idempotent on eventId (a retry gets 200 with duplicate: true). Commits: mediator devices " +
            "only, first commit for an epoch wins (epoch_conflict). Application messages must be in the " +
            "current epoch (stale_epoch).",
          auth: "bearer",
          body: appendEventRequest,
          responses: {
            201: { description: "Appended", schema: appendEventResponse },
            200: { description: "Already appended (retry)", schema: appendEventResponse },
          },
        },
      },
    },
    async (request, reply) => {
      const device = deviceOf(request);
      const { caucusId } = parse(caucusParams, request.params, "path");
      await requireMembership(storage, caucusId, device.deviceId);
      const body = parse(appendEventRequest, request.body, "body");
      decodeBase64Url(body.ciphertext, "ciphertext");
      body.welcomes?.forEach((w, i) => decodeBase64Url(w.welcome, `welcomes.${i}.welcome`));
      const welcomes = body.welcomes ?? [];
      const removes = body.removes ?? [];

      const result = await storage.appendEvent({
        caucusId,
        senderDeviceId: device.deviceId,
        eventId: body.eventId,
        kind: body.kind,
        epoch: body.epoch,
        ciphertext: body.ciphertext,
        welcomes,
        removes,
      });
      if (!result.duplicate) {
        const members = await storage.listMembers(caucusId);
        const deliveries: { deviceId: string; frame: ServerFrame }[] = [];
        for (const m of members) {
          if (m.joined && !m.removed && m.fromSeq <= result.seq) {
            deliveries.push({ deviceId: m.deviceId, frame: { type: "event", caucusId, seq: result.seq } });
          }
        }
        for (const deviceId of [...welcomes.map((w) => w.deviceId), ...removes]) {
          deliveries.push({ deviceId, frame: { type: "membership", caucusId } });
        }
        await publishAll(notifier, request.log, deliveries);
      }
      const response: z.infer<typeof appendEventResponse> = result;
      return reply.code(result.duplicate ? 200 : 201).send(response);
    },
  );

  app.get(
    "/v1/caucuses/:caucusId/events",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Read the transcript from a cursor, in seq order",
          description:
            "Only events from this device's join point (fromSeq) on are returned. A page may hold fewer " +
            "than `limit` events (it stops after about 8 MiB of ciphertext): page on with `after` = the " +
            "last seq until it reaches head.seq.",
          auth: "bearer",
          query: listEventsQuery,
          responses: { 200: { description: "Events and the current head", schema: listEventsResponse } },
        },
      },
    },
    async (request) => {
      const device = deviceOf(request);
      const { caucusId } = parse(caucusParams, request.params, "path");
      const membership = await requireMembership(storage, caucusId, device.deviceId);
      const query = parse(listEventsQuery, request.query, "query");
      // Events before the join point were made in epochs this device never had keys for, and
      // may predate it as a member at all.
      const after = Math.max(query.after, membership.fromSeq - 1);
      const events = await storage.listEvents(caucusId, {
        afterSeq: after,
        limit: query.limit,
        maxBytes: pageBytes,
      });
      const caucus = await storage.getCaucus(caucusId);
      if (!caucus) throw notFound();
      const response: z.infer<typeof listEventsResponse> = {
        events,
        head: caucus.head,
      };
      return response;
    },
  );

  app.get(
    "/v1/caucuses/:caucusId/welcome",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "The MLS Welcome that added this device, and the chain anchor to verify from",
          auth: "bearer",
          responses: { 200: { description: "Welcome", schema: welcomeResponse } },
        },
      },
    },
    async (request) => {
      const device = deviceOf(request);
      const { caucusId } = parse(caucusParams, request.params, "path");
      await requireMembership(storage, caucusId, device.deviceId);
      const welcome = await storage.getWelcome(caucusId, device.deviceId);
      if (!welcome) throw notFound();
      const response: z.infer<typeof welcomeResponse> = {
        caucusId,
        welcome: welcome.welcome,
        seq: welcome.seq,
        hash: welcome.hash,
      };
      return response;
    },
  );
}
