import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { meResponse } from "../../protocol/index.js";
import { deviceOf } from "../auth.js";
import type { RouteContext } from "./context.js";

export function registerMeRoutes(app: FastifyInstance, { storage, authenticate }: RouteContext): void {
  app.get(
    "/v1/me",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "This device and its caucus memberships",
          auth: "bearer",
          responses: { 200: { description: "Device", schema: meResponse } },
        },
      },
    },
    async (request) => {
      const device = deviceOf(request);
      const memberships = await storage.listMemberships(device.deviceId);
      const response: z.infer<typeof meResponse> = {
        deviceId: device.deviceId,
        role: device.role,
        memberships: memberships.map((m) => ({
          caucusId: m.caucusId,
          // A party device never learns its channel: it would link its caucus to the other side's.
          ...(device.role === "mediator" ? { channelId: m.channelId } : {}),
          fromSeq: m.fromSeq,
          joined: m.joined,
        })),
      };
      return response;
    },
  );
}
